// The CLI edge: the only place where errors become exit codes and messages.
#include "control/cli.h"

int main(int argc, char** argv) {
  return ferry::RunCli(argc, argv);
}
