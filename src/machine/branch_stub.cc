// Branch-local stub (image branch): gives the empty machine layer a source file so CMake configures. Drop on merge.
