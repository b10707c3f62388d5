package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of a master key in bytes.
const MasterKeySize = 32

// MasterKey is the 256-bit key that encrypts a Keystore. Like PrivateKey it
// cannot be printed or marshalled. The zero value is not a usable key.
type MasterKey struct {
	key [MasterKeySize]byte
	set bool
}

// IsZero reports whether m is the zero MasterKey, not a loaded one.
func (m MasterKey) IsZero() bool { return !m.set }

// String returns a fixed text without the key.
func (m MasterKey) String() string {
	if !m.set {
		return "keys.MasterKey(zero)"
	}
	return "keys.MasterKey(redacted)"
}

// GoString is String.
func (m MasterKey) GoString() string { return m.String() }

// Format writes String for every verb.
func (m MasterKey) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// LogValue makes slog log String.
func (m MasterKey) LogValue() slog.Value { return slog.StringValue(m.String()) }

// MarshalJSON refuses.
func (m MasterKey) MarshalJSON() ([]byte, error) { return nil, errMarshal }

// MarshalText refuses.
func (m MasterKey) MarshalText() ([]byte, error) { return nil, errMarshal }

// maxMasterKeyFile bounds how much of a master key file is read.
const maxMasterKeyFile = 1 << 10

// LoadMasterKey returns the master key, from the first source that is set:
//
//   - envValue, the value of an environment variable: standard base64 of
//     exactly 32 bytes (surrounding white space is ignored);
//   - the file at path, holding the same text. The file must not be
//     readable or writable by group or others: a mode broader than 0600 is
//     an error, so that a leaked key is noticed rather than used.
//
// If envValue is empty and the file does not exist, LoadMasterKey generates
// a key, writes it to path with mode 0600 (creating the parent directory
// with mode 0700 if needed) and reports created. Errors never contain the
// key.
func LoadMasterKey(envValue string, path string) (MasterKey, bool, error) {
	if envValue != "" {
		m, err := parseMasterKey(envValue)
		if err != nil {
			return MasterKey{}, false, fmt.Errorf("keys: master key from the environment: %w", err)
		}
		return m, false, nil
	}
	if path == "" {
		return MasterKey{}, false, errors.New("keys: no master key: neither a value nor a file path is set")
	}
	m, err := readMasterKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return m, false, err
	}
	m, err = createMasterKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		m, err = readMasterKeyFile(path)
		return m, false, err
	}
	return m, err == nil, err
}

func parseMasterKey(s string) (MasterKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil {
		return MasterKey{}, errors.New("not standard base64")
	}
	if len(b) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("decodes to %d bytes, want %d", len(b), MasterKeySize)
	}
	m := MasterKey{set: true}
	copy(m.key[:], b)
	clear(b)
	return m, nil
}

// readMasterKeyFile reads the key at path. An error wrapping
// fs.ErrNotExist means there is no file.
func readMasterKeyFile(path string) (MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return MasterKey{}, err
		}
		return MasterKey{}, fmt.Errorf("keys: master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("keys: master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return MasterKey{}, fmt.Errorf("keys: master key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("keys: master key file %s has mode %04o: it must not be accessible to group or others (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFile+1))
	if err != nil {
		return MasterKey{}, fmt.Errorf("keys: master key file: %w", err)
	}
	defer clear(data)
	if len(data) > maxMasterKeyFile {
		return MasterKey{}, fmt.Errorf("keys: master key file %s is too large", path)
	}
	m, err := parseMasterKey(string(data))
	if err != nil {
		return MasterKey{}, fmt.Errorf("keys: master key file %s: %w", path, err)
	}
	return m, nil
}

// createMasterKeyFile generates a key and writes it to a new file at path.
// An error wrapping fs.ErrExist means the file appeared meanwhile.
func createMasterKeyFile(path string) (MasterKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return MasterKey{}, fmt.Errorf("keys: create master key file: %w", err)
	}
	m := MasterKey{set: true}
	rand.Read(m.key[:]) // never fails (crypto/rand documents this)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return MasterKey{}, err
		}
		return MasterKey{}, fmt.Errorf("keys: create master key file: %w", err)
	}
	text := base64.StdEncoding.EncodeToString(m.key[:]) + "\n"
	_, err = io.WriteString(f, text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return MasterKey{}, fmt.Errorf("keys: write master key file %s: %w", path, err)
	}
	return m, nil
}
