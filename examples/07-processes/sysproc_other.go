//go:build !linux

package main

import "os/exec"

// setProcAttr does nothing here: only Linux can kill a child when its
// parent dies. The example still kills its nodes on every way out.
func setProcAttr(cmd *exec.Cmd) {}
