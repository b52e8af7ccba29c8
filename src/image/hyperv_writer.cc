// The Hyper-V side of `ferry export --to hyperv`: a PowerShell script
// (Hyper-V module cmdlets) that creates the VM around the VHDX files beside
// it. Hyper-V's VM configuration (.vmcx) is a binary format of its own, so
// the VM is made by Hyper-V itself, from the script.
#include <cctype>

#include "image/export_vm.h"

namespace ferry::image {
namespace {

// A PowerShell single-quoted string: quotes doubled.
std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string HexMac(const std::string& mac) {
  std::string out;
  for (char c : mac) {
    if (c != ':') out += char(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string HyperVScript(const ExportVm& vm) {
  const bool gen2 = vm.firmware == "efi";
  const std::string name = Quote(vm.name);
  std::string out =
      "# written by ferry export: run in PowerShell as an administrator on the Hyper-V host,\n"
      "# from the directory that holds this script and the disks.\n"
      "$ErrorActionPreference = 'Stop'\n";
  out += "New-VM -Name " + name + " -Generation " + (gen2 ? "2" : "1") + " -MemoryStartupBytes " +
         std::to_string(vm.memory_mib) + "MB -NoVHD | Out-Null\n";
  out += "Set-VMProcessor -VMName " + name + " -Count " + std::to_string(vm.vcpus) + "\n";
  if (gen2) {
    // Linux guests boot with Microsoft's UEFI CA template or without Secure Boot.
    out += "Set-VMFirmware -VMName " + name + " -EnableSecureBoot Off\n";
  }
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    // Generation 1 boots from IDE only: the first disk goes there.
    const bool ide = !gen2 && i == 0;
    out += "Add-VMHardDiskDrive -VMName " + name + " -ControllerType " + (ide ? "IDE" : "SCSI") +
           " -Path (Join-Path $PSScriptRoot " + Quote(vm.disks[i].file) + ")\n";
  }
  out += "Get-VMNetworkAdapter -VMName " + name + " | Remove-VMNetworkAdapter\n";
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    const std::string adapter = Quote("nic" + std::to_string(i));
    out += "Add-VMNetworkAdapter -VMName " + name + " -Name " + adapter + "\n";
    if (!vm.nics[i].mac.empty()) {
      out += "Set-VMNetworkAdapter -VMName " + name + " -Name " + adapter + " -StaticMacAddress " +
             Quote(HexMac(vm.nics[i].mac)) + "\n";
    }
  }
  if (gen2 && !vm.disks.empty()) {
    out += "Set-VMFirmware -VMName " + name + " -FirstBootDevice (Get-VMHardDiskDrive -VMName " +
           name + " | Select-Object -First 1)\n";
  }
  return out + "Write-Host " +
         Quote("created VM " + vm.name + "; connect its adapters to a switch") + "\n";
}

}  // namespace ferry::image
