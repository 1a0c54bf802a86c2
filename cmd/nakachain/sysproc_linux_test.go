package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the child if the test process dies,
// so a crashed or killed test leaves no node running.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
