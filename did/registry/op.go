package registry

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gowebpki/jcs"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

// Method is the DID method name.
const Method = "medid"

// OpType names an operation.
type OpType string

// The four operations of did:medid.
const (
	OpCreate     OpType = "create"
	OpUpdate     OpType = "update"
	OpRecover    OpType = "recover"
	OpDeactivate OpType = "deactivate"
)

// JWSType is the "typ" header every signed operation carries.
const JWSType = "did-medid-op+jws"

// Limits on untrusted operations.
const (
	MaxOperationSize = 64 << 10
	maxDocumentSize  = 32 << 10
	maxMethods       = 32
	maxServices      = 32
)

// Operation is the signed payload of a did:medid operation. Which fields are
// required depends on Type; see docs/did-medid.md.
type Operation struct {
	Type OpType `json:"type"`
	// DID is the subject; empty for create (the DID is derived from it).
	DID string `json:"did,omitempty"`
	// Prev is the hash of the operation this one follows (the current
	// version's opHash); empty for create.
	Prev string `json:"prev,omitempty"`
	// Document is the new DID document content (create, update, recover).
	Document json.RawMessage `json:"document,omitempty"`
	// UpdateKey is the public JWK that authorises the next update (create,
	// recover; optional on update to rotate it).
	UpdateKey json.RawMessage `json:"updateKey,omitempty"`
	// RecoveryCommitment is the RFC 7638 thumbprint of the recovery key
	// that authorises the next recover or deactivate (create, recover).
	RecoveryCommitment string `json:"recoveryCommitment,omitempty"`
	// RecoveryKey reveals the committed recovery key (recover, deactivate).
	RecoveryKey json.RawMessage `json:"recoveryKey,omitempty"`
	// Nonce makes otherwise identical creates distinct (create).
	Nonce string `json:"nonce,omitempty"`
}

// Canonical returns the operation's JCS (RFC 8785) serialisation.
func (op *Operation) Canonical() ([]byte, error) {
	raw, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

// Hash is the base64url SHA-256 of the canonical operation: the value the
// next operation names as Prev, and for create the source of the DID.
func (op *Operation) Hash() (string, error) {
	c, err := op.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// DIDFromCreate derives the self-certifying DID of a create operation:
// did:medid: followed by the lowercase unpadded base32 of the SHA-256 of the
// canonical operation.
func DIDFromCreate(op *Operation) (did.DID, error) {
	c, err := op.Canonical()
	if err != nil {
		return did.DID{}, err
	}
	sum := sha256.Sum256(c)
	return did.Parse("did:medid:" + strings.ToLower(b32.EncodeToString(sum[:])))
}

// OpError is a rejected operation: Field names the offending member.
type OpError struct {
	Field  string
	Reason string
	// Unauthorized is set when the signature or key does not authorise it.
	Unauthorized bool
	// Stale is set when Prev does not match the current state.
	Stale bool
}

func (e *OpError) Error() string {
	if e.Field != "" {
		return "did:medid operation: " + e.Field + ": " + e.Reason
	}
	return "did:medid operation: " + e.Reason
}

func opErr(field, format string, args ...any) *OpError {
	return &OpError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrDeactivated is returned for an operation on a deactivated DID.
var ErrDeactivated = errors.New("did:medid: DID is deactivated")

// SignedOp is a parsed JWS-compact operation whose payload is well formed.
// Its signature has NOT been checked against any state yet: only Apply does
// that, and only Apply's result is trusted.
type SignedOp struct {
	JWS string
	Op  Operation
	Alg keys.Algorithm
	// hash is the operation hash, computed once from the canonical payload.
	hash string
}

// Hash returns the operation hash (base64url SHA-256 of the canonical
// payload).
func (s *SignedOp) Hash() string { return s.hash }

// ParseSignedOp parses a compact JWS carrying an operation. It checks the
// shape (header allowlist, typ, alg, payload well-formedness), not the
// signature.
func ParseSignedOp(compact string) (*SignedOp, error) {
	if len(compact) > MaxOperationSize {
		return nil, opErr("", "operation exceeds %d bytes", MaxOperationSize)
	}
	msg, err := jws.Parse([]byte(compact), jws.WithCompact())
	if err != nil {
		return nil, opErr("", "not a compact JWS: %v", err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, opErr("", "exactly one signature is required")
	}
	hdr := sigs[0].ProtectedHeaders()
	var hm map[string]json.RawMessage
	hb, err := json.Marshal(hdr)
	if err != nil || json.Unmarshal(hb, &hm) != nil {
		return nil, opErr("protected", "unreadable header")
	}
	for k := range hm {
		if k != "alg" && k != "typ" && k != "kid" {
			return nil, opErr("protected."+k, "header parameter not allowed")
		}
	}
	typ, _ := hdr.Type()
	if typ != JWSType {
		return nil, opErr("protected.typ", "must be %q", JWSType)
	}
	algv, _ := hdr.Algorithm()
	var alg keys.Algorithm
	switch algv.String() {
	case "ES256":
		alg = keys.ES256
	case "EdDSA":
		alg = keys.EdDSA
	default:
		return nil, opErr("protected.alg", "algorithm %q not allowed (ES256, EdDSA)", algv.String())
	}
	var op Operation
	dec := json.NewDecoder(strings.NewReader(string(msg.Payload())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		return nil, opErr("payload", "malformed operation: %v", err)
	}
	if err := op.checkShape(); err != nil {
		return nil, err
	}
	// The signed bytes must be the operation's canonical form, so that the
	// operation hash (and a create's DID) is the same for every reader.
	canon, err := op.Canonical()
	if err != nil || !bytes.Equal(canon, msg.Payload()) {
		return nil, opErr("payload", "must be the JCS (RFC 8785) canonical form of the operation")
	}
	sum := sha256.Sum256(canon)
	return &SignedOp{JWS: compact, Op: op, Alg: alg, hash: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

func (op *Operation) checkShape() error {
	need := func(ok bool, field string) error {
		if !ok {
			return opErr(field, "required for %s", op.Type)
		}
		return nil
	}
	forbid := func(present bool, field string) error {
		if present {
			return opErr(field, "not allowed for %s", op.Type)
		}
		return nil
	}
	var errs []error
	switch op.Type {
	case OpCreate:
		errs = append(errs, forbid(op.DID != "", "did"), forbid(op.Prev != "", "prev"),
			need(len(op.Document) > 0, "document"), need(len(op.UpdateKey) > 0, "updateKey"),
			need(op.RecoveryCommitment != "", "recoveryCommitment"), forbid(len(op.RecoveryKey) > 0, "recoveryKey"))
	case OpUpdate:
		errs = append(errs, need(op.DID != "", "did"), need(op.Prev != "", "prev"),
			need(len(op.Document) > 0, "document"), forbid(op.RecoveryCommitment != "", "recoveryCommitment"),
			forbid(len(op.RecoveryKey) > 0, "recoveryKey"), forbid(op.Nonce != "", "nonce"))
	case OpRecover:
		errs = append(errs, need(op.DID != "", "did"), need(op.Prev != "", "prev"),
			need(len(op.Document) > 0, "document"), need(len(op.UpdateKey) > 0, "updateKey"),
			need(op.RecoveryCommitment != "", "recoveryCommitment"), need(len(op.RecoveryKey) > 0, "recoveryKey"),
			forbid(op.Nonce != "", "nonce"))
	case OpDeactivate:
		errs = append(errs, need(op.DID != "", "did"), need(op.Prev != "", "prev"),
			need(len(op.RecoveryKey) > 0, "recoveryKey"), forbid(len(op.Document) > 0, "document"),
			forbid(len(op.UpdateKey) > 0, "updateKey"), forbid(op.RecoveryCommitment != "", "recoveryCommitment"),
			forbid(op.Nonce != "", "nonce"))
	default:
		return opErr("type", "unknown operation type %q", op.Type)
	}
	if err := errors.Join(errs...); err != nil {
		var oe *OpError
		if errors.As(err, &oe) {
			return oe
		}
		return err
	}
	if op.DID != "" {
		d, err := did.Parse(op.DID)
		if err != nil || d.Method() != Method || !ValidID(d.ID()) {
			return opErr("did", "not a well-formed did:medid DID")
		}
	}
	if len(op.Nonce) > 64 {
		return opErr("nonce", "at most 64 characters")
	}
	if len(op.Document) > maxDocumentSize {
		return opErr("document", "exceeds %d bytes", maxDocumentSize)
	}
	return nil
}

// publicKeyOf parses a public JWK member, naming field on error.
func publicKeyOf(field string, raw json.RawMessage) (crypto.PublicKey, keys.Algorithm, error) {
	pub, alg, err := keys.PublicKeyFromJWK(raw)
	if err != nil {
		return nil, "", opErr(field, "%v", err)
	}
	return pub, alg, nil
}

// verifySig checks the JWS signature with pub, whose algorithm must match
// the header's.
func (s *SignedOp) verifySig(pub crypto.PublicKey, alg keys.Algorithm) error {
	if alg != s.Alg {
		return &OpError{Field: "protected.alg", Reason: "does not match the authorising key", Unauthorized: true}
	}
	var ja jwa.SignatureAlgorithm
	switch alg {
	case keys.ES256:
		ja = jwa.ES256()
		if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			return &OpError{Reason: "authorising key is not P-256", Unauthorized: true}
		}
	case keys.EdDSA:
		ja = jwa.EdDSA()
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return &OpError{Reason: "authorising key is not Ed25519", Unauthorized: true}
		}
	}
	if _, err := jws.Verify([]byte(s.JWS), jws.WithKey(ja, pub)); err != nil {
		return &OpError{Reason: "signature does not verify with the authorising key", Unauthorized: true}
	}
	return nil
}
