package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/keys"
)

// keyFile is the CLI's local store of DID controller keys (mode 0600).
// Keys never leave it: the server only ever sees public keys and
// signatures.
type keyFile struct {
	path string
	DIDs map[string]*didKeys `json:"dids"`
}

// didKeys are one DID's private keys, PKCS #8 DER in base64. Verification
// keys are by verification method fragment ("#key-1").
type didKeys struct {
	Update       string            `json:"update,omitempty"`
	Recovery     string            `json:"recovery,omitempty"`
	Verification map[string]string `json:"verification,omitempty"`
	// Pending are keys sent to the server but not yet confirmed: they
	// replace these once it answers (and stay here if it never does).
	Pending *didKeys `json:"pending,omitempty"`
}

func loadKeyFile(path string) (*keyFile, error) {
	kf := &keyFile{path: path, DIDs: map[string]*didKeys{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s holds private keys but is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	if err := json.Unmarshal(b, kf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if kf.DIDs == nil {
		kf.DIDs = map[string]*didKeys{}
	}
	return kf, nil
}

// save writes the file atomically with mode 0600.
func (kf *keyFile) save() error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(kf.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), kf.path)
}

func encodeKey(k *keys.PrivateKey) (string, error) {
	der, err := keys.ExportPKCS8(k)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

func decodeKey(s string) (*keys.PrivateKey, error) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("key file: bad base64")
	}
	return keys.ParsePKCS8(der)
}

func (kf *keyFile) keysOf(d string) (*didKeys, error) {
	k, ok := kf.DIDs[d]
	if !ok {
		return nil, fmt.Errorf("%s holds no keys for %s", kf.path, d)
	}
	return k, nil
}

// stage saves next as the pending keys of slot (a DID, or a placeholder
// while a create has no DID yet) before send tells the server about them,
// then makes them the current keys of the DID the server answers for. A
// DID whose new keys were lost could never be updated or recovered.
func (kf *keyFile) stage(slot string, next *didKeys, send func() (*registry.RegistrationState, error)) (*registry.RegistrationState, error) {
	held := &didKeys{}
	if cur, ok := kf.DIDs[slot]; ok {
		c := *cur
		held = &c
	}
	held.Pending = next
	kf.DIDs[slot] = held
	if err := kf.save(); err != nil {
		return nil, err
	}
	st, err := send()
	if err != nil {
		return nil, err
	}
	delete(kf.DIDs, slot)
	kf.DIDs[st.DIDState.DID] = next
	return st, kf.save()
}
