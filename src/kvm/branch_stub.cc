// Branch-local stub (image branch): gives the empty kvm layer a source file so CMake configures. Drop on merge.
