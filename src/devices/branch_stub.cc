// Branch-local stub (image branch): gives the empty devices layer a source file so CMake configures. Drop on merge.
