"""Network namespaces as test hosts: a switch (a bridge in its own namespace)
and hosts wired to it by veth pairs, each host with a bridge that its VMs'
TAP devices join, like a hypervisor host. Everything is created with unique
names and removed on close(), even after a failed test."""
import secrets
import subprocess


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True, text=True)


class NetLab:
    def __init__(self):
        self.tag = secrets.token_hex(2)
        self.namespaces = []
        self.switch = self.namespace("sw")
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        self._ports = 0

    def namespace(self, role):
        name = f"ferry{self.tag}{role}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def exec_argv(self, ns, *argv):
        return ["ip", "netns", "exec", ns, *[str(a) for a in argv]]

    def _plug(self, ns, inner):
        """A veth from the switch's bridge into `ns`, named `inner` there."""
        self._ports += 1
        outer = f"p{self._ports}"
        sh("ip", "link", "add", f"v{self.tag}{self._ports}", "type", "veth", "peer", "name",
           f"w{self.tag}{self._ports}")
        sh("ip", "link", "set", f"v{self.tag}{self._ports}", "netns", self.switch)
        sh("ip", "-n", self.switch, "link", "set", f"v{self.tag}{self._ports}", "name", outer)
        sh("ip", "-n", self.switch, "link", "set", outer, "master", "br0", "up")
        sh("ip", "link", "set", f"w{self.tag}{self._ports}", "netns", ns)
        sh("ip", "-n", ns, "link", "set", f"w{self.tag}{self._ports}", "name", inner)
        sh("ip", "-n", ns, "link", "set", inner, "up")

    def host(self, role, address, taps=("tap0",)):
        """A hypervisor host: bridge `vmbr` with the uplink and TAP devices for VMs."""
        ns = self.namespace(role)
        self._plug(ns, "uplink")
        sh("ip", "-n", ns, "link", "add", "vmbr", "type", "bridge")
        sh("ip", "-n", ns, "link", "set", "uplink", "master", "vmbr")
        for tap in taps:
            sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr")
            sh("ip", "-n", ns, "link", "set", tap, "master", "vmbr", "up")
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "vmbr")
        sh("ip", "-n", ns, "link", "set", "vmbr", "up")
        return ns

    def client(self, role, address):
        ns = self.namespace(role)
        self._plug(ns, "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        return ns

    def close(self):
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []
