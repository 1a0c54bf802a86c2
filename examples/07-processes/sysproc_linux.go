package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the node if this program dies, even
// by SIGKILL, so that no node is ever left running.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
