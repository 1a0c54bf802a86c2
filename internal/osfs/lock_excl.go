//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package osfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Lock creates path exclusively (O_EXCL) and returns what removes it: on
// this platform the file's existence is the lock. A second Lock fails with
// [ErrLocked] while the file exists. A process that dies holding the lock
// leaves the file behind; remove it by hand once no process uses the
// directory.
func Lock(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists (remove it if no process uses the directory): %w", path, ErrLocked)
	}
	if err != nil {
		return nil, err
	}
	return &exclLock{f: f, path: path}, nil
}

type exclLock struct {
	f    *os.File
	path string
}

func (l *exclLock) Close() error {
	err := l.f.Close()
	if rerr := os.Remove(l.path); err == nil {
		err = rerr
	}
	return err
}
