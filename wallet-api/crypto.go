package walletapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/medid/medid/internal/keys"
)

// vaultVersion is the first byte of every record sealed under an account's
// data key: version (1) | nonce (12) | AES-256-GCM ciphertext and tag. The
// additional data is a fixed label, the account id and the record's store
// key, so a record opens only for its account at its place.
const vaultVersion = 1

// vault seals an account's records under its data key.
type vault struct {
	acct string
	aead cipher.AEAD
}

// newDataKey returns a fresh data key and its form sealed under the master
// key sealer for account id.
func newDataKey(s *keys.Sealer, acct string) ([]byte, error) {
	dk := make([]byte, 32)
	rand.Read(dk) // never fails (crypto/rand documents this)
	defer clear(dk)
	return s.Seal(dk, dataKeyAD(acct))
}

func dataKeyAD(acct string) []byte { return []byte("medid wallet data key v1\x00" + acct) }

// openVault unwraps an account's data key.
func openVault(s *keys.Sealer, acct string, wrapped []byte) (*vault, error) {
	dk, err := s.Open(wrapped, dataKeyAD(acct))
	if err != nil {
		return nil, fmt.Errorf("walletapi: account data key: %w", err)
	}
	defer clear(dk)
	if len(dk) != 32 {
		return nil, errors.New("walletapi: account data key has the wrong size")
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &vault{acct: acct, aead: aead}, nil
}

func (v *vault) ad(storeKey string) []byte {
	return []byte("medid wallet record v1\x00" + v.acct + "\x00" + storeKey)
}

// seal encrypts the JSON of rec for storeKey.
func (v *vault) seal(storeKey string, rec any) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	ns := v.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+v.aead.Overhead())
	out[0] = vaultVersion
	rand.Read(out[1:])
	return v.aead.Seal(out, out[1:1+ns], plain, v.ad(storeKey)), nil
}

// errSealed reports a record that does not open under the account's key.
var errSealed = errors.New("walletapi: sealed record does not open (altered, moved, or another account's)")

// open decrypts a record sealed for storeKey into rec.
func (v *vault) open(storeKey string, sealed []byte, rec any) error {
	ns := v.aead.NonceSize()
	if len(sealed) < 1+ns+v.aead.Overhead() || sealed[0] != vaultVersion {
		return errSealed
	}
	plain, err := v.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], v.ad(storeKey))
	if err != nil {
		return errSealed
	}
	defer clear(plain)
	return json.Unmarshal(plain, rec)
}

// Argon2Params are argon2id parameters, stored with every hash so that
// they can be raised later without breaking existing hashes.
type Argon2Params struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
}

// DefaultPasswordParams are OWASP's argon2id recommendation (19 MiB, two
// passes, one lane).
var DefaultPasswordParams = Argon2Params{Time: 2, Memory: 19 * 1024, Threads: 1}

// DefaultBackupParams protect backups, which an attacker can attack
// offline: 64 MiB, three passes, two lanes.
var DefaultBackupParams = Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 2}

// maxKDFParams bounds what an archive header may ask of the server (an
// import is unauthenticated): at most two run at once (backupSlots), so
// imports hold at most 256 MiB.
var maxKDFParams = Argon2Params{Time: 8, Memory: 128 * 1024, Threads: 8}

func (p Argon2Params) check(min Argon2Params) error {
	if p.Time < min.Time || p.Memory < min.Memory || p.Threads < min.Threads || p.Threads == 0 || p.Time == 0 {
		return errors.New("argon2id parameters are below the minimum")
	}
	if p.Time > maxKDFParams.Time || p.Memory > maxKDFParams.Memory || p.Threads > maxKDFParams.Threads {
		return errors.New("argon2id parameters exceed the maximum")
	}
	return nil
}

// passwordHash is a stored argon2id password hash.
type passwordHash struct {
	Alg    string       `json:"alg"` // "argon2id"
	V      int          `json:"v"`   // argon2 version (19)
	Params Argon2Params `json:"params"`
	Salt   []byte       `json:"salt"`
	Hash   []byte       `json:"hash"`
}

func hashPassword(password string, p Argon2Params) passwordHash {
	salt := make([]byte, 16)
	rand.Read(salt)
	h := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	return passwordHash{Alg: "argon2id", V: argon2.Version, Params: p, Salt: salt, Hash: h}
}

// verify reports whether password matches, in constant time.
func (h passwordHash) verify(password string) bool {
	if h.Alg != "argon2id" || h.V != argon2.Version || len(h.Hash) == 0 || h.Params.check(Argon2Params{Time: 1, Memory: 8, Threads: 1}) != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Hash)))
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

// hashSecret stores tokens and identifiers by their SHA-256.
func hashSecret(label, secret string) string {
	sum := sha256.Sum256([]byte(label + "\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
