//go:build !unix

package azurite

import "os/exec"

// setProcessGroup does nothing where process groups do not exist.
func setProcessGroup(*exec.Cmd) {}

// signalGroup kills the emulator process; there is no gentler signal here.
func signalGroup(cmd *exec.Cmd, _ bool) {
	_ = cmd.Process.Kill() // the process may be gone already
}
