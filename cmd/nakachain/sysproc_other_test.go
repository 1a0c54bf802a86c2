//go:build !linux

package main

import (
	"os/exec"
)

// setProcAttr does nothing here: only Linux kills a child when its parent
// dies.
func setProcAttr(cmd *exec.Cmd) {}
