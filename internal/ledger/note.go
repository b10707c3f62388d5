package ledger

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signed-note signature type byte for Ed25519.
const algEd25519 = 0x01

var (
	// ErrUnsupportedKey is returned for signing keys that are not Ed25519.
	ErrUnsupportedKey = errors.New("ledger: signing key is not Ed25519")
	// ErrInvalidOrigin is returned for origins that are not valid note names.
	ErrInvalidOrigin = errors.New("ledger: invalid origin")
)

// validName reports whether name is a valid signed-note key name: non-empty
// UTF-8 without Unicode spaces or '+' (as golang.org/x/mod/sumdb/note checks).
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// noteSigner is a note.Signer backed by any crypto.Signer holding an Ed25519
// key, so the private key need not be exportable.
type noteSigner struct {
	name string
	hash uint32
	s    crypto.Signer
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	// crypto.Hash(0) selects pure Ed25519, which is what signed notes use.
	return n.s.Sign(rand.Reader, msg, crypto.Hash(0))
}

// String keeps the key out of logs.
func (n *noteSigner) String() string { return fmt.Sprintf("note signer %s+%08x", n.name, n.hash) }

// keyHash is the C2SP signed-note key ID: the first four bytes of
// SHA-256(name || "\n" || type || public key), big-endian.
func keyHash(name string, typedKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(typedKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// NewNoteSigner returns a C2SP signed-note Ed25519 signer named origin that
// signs with s. It checks once that s produces signatures its public key
// verifies, so a misconfigured HSM or KMS fails here, not at the first
// checkpoint.
func NewNoteSigner(origin string, s crypto.Signer) (note.Signer, error) {
	if !validName(origin) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidOrigin, origin)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrUnsupportedKey)
	}
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %T", ErrUnsupportedKey, s.Public())
	}
	typed := append([]byte{algEd25519}, pub...)
	ns := &noteSigner{name: origin, hash: keyHash(origin, typed), s: s}

	probe := []byte("medid ledger signer self-test\n")
	sig, err := ns.Sign(probe)
	if err != nil {
		return nil, fmt.Errorf("ledger: signer self-test: %w", err)
	}
	if !ed25519.Verify(pub, probe, sig) {
		return nil, errors.New("ledger: signer self-test: signature does not verify with its public key")
	}
	return ns, nil
}

// VerifierKey returns the signed-note verifier key for origin and pub:
// "origin+hash+base64(0x01||pub)", where hash is the hex key ID.
func VerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	if !validName(origin) {
		return "", fmt.Errorf("%w: %q", ErrInvalidOrigin, origin)
	}
	k, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	return k, nil
}

// publicKey returns the Ed25519 public key of s.
func publicKey(s crypto.Signer) (ed25519.PublicKey, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %T", ErrUnsupportedKey, s.Public())
	}
	return bytes.Clone(pub), nil
}
