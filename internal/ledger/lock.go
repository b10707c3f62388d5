package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock on dir/.medid.lock and
// returns the open file that holds it; closing the file releases the lock.
//
// flock(2) locks belong to the open file description, so a second Open in
// the same process conflicts just as one in another process does (tessera's
// fcntl locks are per process and do not).
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, p)
		}
		return nil, fmt.Errorf("ledger: lock %s: %w", p, err)
	}
	return f, nil
}
