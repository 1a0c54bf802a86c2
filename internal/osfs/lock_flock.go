//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package osfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Lock takes an exclusive, non-blocking flock(2) on path, creating the file
// if needed, and returns what releases it. The lock belongs to the open
// file, so a second Lock on the same path fails with [ErrLocked] whether it
// comes from another process or from this one. The kernel releases the
// lock when the process ends, however it ends; the file stays.
func Lock(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}
