package kv

import (
	"errors"
	"fmt"
	"time"
)

// MaxKeyLen is the length in bytes of the longest key a Store accepts.
const MaxKeyLen = 1024

// ErrInvalid is returned (wrapped) for a key that is empty or longer than
// MaxKeyLen, and for a negative ttl.
var ErrInvalid = errors.New("kv: invalid argument")

// CheckKey reports whether key is acceptable to a Store: non-empty and at
// most MaxKeyLen bytes. The error wraps ErrInvalid.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalid, len(key), MaxKeyLen)
	}
	return nil
}

// CheckTTL reports whether ttl is acceptable to a Store: zero (no expiry)
// or positive. The error wraps ErrInvalid.
func CheckTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: negative ttl %v", ErrInvalid, ttl)
	}
	return nil
}
