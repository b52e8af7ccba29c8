// The CLI edge: the only place where errors become exit codes and messages.
#include <signal.h>

#include "control/cli.h"

int main(int argc, char** argv) {
  // A peer that goes away must be an error value on write, never a signal
  // that kills the VMM and the guest with it.
  signal(SIGPIPE, SIG_IGN);
  return ferry::RunCli(argc, argv);
}
