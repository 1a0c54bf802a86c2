// Package osfs holds what the block store needs from the operating system
// beyond package os: an exclusive lock on a file, and syncing a directory so
// that the files created in it survive a crash.
package osfs

import (
	"errors"
	"os"
	"runtime"
)

// ErrLocked is returned (wrapped) by [Lock] when another holder has the
// lock.
var ErrLocked = errors.New("osfs: locked by another holder")

// SyncDir flushes a directory's entries to stable storage (fsync on the
// directory): after it returns, files created, renamed or removed in dir
// stay so after a power loss. On Windows, which cannot sync a directory
// and journals its metadata, it only checks that dir opens.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && runtime.GOOS == "windows" {
		return nil
	}
	return err
}
