package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medid/medid/internal/kv"
)

// ErrDecrypt is returned (wrapped) by Keystore.Get when a stored key cannot
// be decrypted: the master key is not the one it was stored with, or the
// record was altered or copied from another id.
var ErrDecrypt = errors.New("keys: cannot decrypt stored key (wrong master key, or the record was altered or moved)")

// keyPrefix is the kv namespace of stored keys.
const keyPrefix = "keys/"

// recordVersion is the first byte of every stored record:
//
//	version (1) | nonce (12) | AES-256-GCM ciphertext and tag
//
// The additional authenticated data is the version byte followed by the kv
// key, so a record is only valid under the id it was written for.
const recordVersion = 1

// hkdfInfo separates the keystore's encryption key from any other key that
// may one day be derived from the master key.
const hkdfInfo = "medid keystore v1 AES-256-GCM"

// Keystore stores private keys in a kv.Store, encrypted under a master key.
type Keystore struct {
	store kv.Store
	aead  cipher.AEAD
}

// NewKeystore returns a Keystore that keeps its keys in store under the
// "keys/" prefix, encrypted with a key derived from mk.
func NewKeystore(store kv.Store, mk MasterKey) (*Keystore, error) {
	if store == nil {
		return nil, errors.New("keys: NewKeystore: nil store")
	}
	if mk.IsZero() {
		return nil, errors.New("keys: NewKeystore: zero master key")
	}
	ek, err := hkdf.Key(sha256.New, mk.key[:], nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("keys: NewKeystore: %w", err)
	}
	defer clear(ek)
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, fmt.Errorf("keys: NewKeystore: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: NewKeystore: %w", err)
	}
	return &Keystore{store: store, aead: aead}, nil
}

// record is the plaintext of a stored key.
type record struct {
	Alg   Algorithm `json:"alg"`
	PKCS8 []byte    `json:"pkcs8"` // PKCS #8 DER of the private key
}

func storeKey(id string) (string, error) {
	if id == "" {
		return "", errors.New("keys: empty key id")
	}
	k := keyPrefix + id
	if err := kv.CheckKey(k); err != nil {
		return "", fmt.Errorf("keys: key id: %w", err)
	}
	return k, nil
}

func aad(storeKey string) []byte {
	return append([]byte{recordVersion}, storeKey...)
}

// Put stores k under id. Ids are never reused: if id already holds a key,
// Put returns an error wrapping kv.ErrConflict.
func (ks *Keystore) Put(ctx context.Context, id string, k *PrivateKey) error {
	sk, err := storeKey(id)
	if err != nil {
		return err
	}
	if k == nil || k.signer == nil {
		return errZeroKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return fmt.Errorf("keys: put %q: %w", id, err)
	}
	defer clear(der)
	plain, err := json.Marshal(record{Alg: k.alg, PKCS8: der})
	if err != nil {
		return fmt.Errorf("keys: put %q: %w", id, err)
	}
	defer clear(plain)
	nonce := make([]byte, ks.aead.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand documents this)
	sealed := append([]byte{recordVersion}, nonce...)
	sealed = ks.aead.Seal(sealed, nonce, plain, aad(sk))
	err = ks.store.CompareAndSwap(ctx, sk, nil, sealed, 0)
	if errors.Is(err, kv.ErrConflict) {
		return fmt.Errorf("keys: put %q: a key with this id already exists: %w", id, err)
	}
	if err != nil {
		return fmt.Errorf("keys: put %q: %w", id, err)
	}
	return nil
}

// Get returns the key stored under id. If there is none, the error wraps
// kv.ErrNotFound; if it cannot be decrypted, ErrDecrypt.
func (ks *Keystore) Get(ctx context.Context, id string) (*PrivateKey, error) {
	sk, err := storeKey(id)
	if err != nil {
		return nil, err
	}
	sealed, err := ks.store.Get(ctx, sk)
	if err != nil {
		return nil, fmt.Errorf("keys: get %q: %w", id, err)
	}
	ns := ks.aead.NonceSize()
	if len(sealed) < 1+ns+ks.aead.Overhead() || sealed[0] != recordVersion {
		return nil, fmt.Errorf("keys: get %q: malformed record", id)
	}
	nonce, ct := sealed[1:1+ns], sealed[1+ns:]
	plain, err := ks.aead.Open(nil, nonce, ct, aad(sk))
	if err != nil {
		return nil, fmt.Errorf("keys: get %q: %w", id, ErrDecrypt)
	}
	defer clear(plain)
	var rec record
	if err := json.Unmarshal(plain, &rec); err != nil {
		return nil, fmt.Errorf("keys: get %q: malformed record", id)
	}
	defer clear(rec.PKCS8)
	parsed, err := x509.ParsePKCS8PrivateKey(rec.PKCS8)
	if err != nil {
		return nil, fmt.Errorf("keys: get %q: malformed private key", id)
	}
	var k *PrivateKey
	switch p := parsed.(type) {
	case ed25519.PrivateKey:
		k, err = newPrivateKey(rec.Alg, p)
	case *ecdsa.PrivateKey:
		k, err = newPrivateKey(rec.Alg, p)
	default:
		err = fmt.Errorf("unsupported key type %T", parsed)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: get %q: %w", id, err)
	}
	return k, nil
}

// Delete removes the key stored under id, if any.
func (ks *Keystore) Delete(ctx context.Context, id string) error {
	sk, err := storeKey(id)
	if err != nil {
		return err
	}
	if err := ks.store.Delete(ctx, sk); err != nil {
		return fmt.Errorf("keys: delete %q: %w", id, err)
	}
	return nil
}
