package dataintegrity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/did"
)

// The cryptosuites, the proof type and the proof purposes.
const (
	EdDSARDFC2022 = "eddsa-rdfc-2022"
	ECDSARDFC2019 = "ecdsa-rdfc-2019"

	ProofType = "DataIntegrityProof"

	AssertionMethod = "assertionMethod"
	Authentication  = "authentication"
)

// MaxClockSkew is how far in the future a proof's created time may be
// before Verify refuses it.
const MaxClockSkew = 5 * time.Minute

// maxDocument bounds the documents Sign and Verify read (1 MiB).
const maxDocument = 1 << 20

// Options configure Sign.
type Options struct {
	// Cryptosuite is EdDSARDFC2022 (an Ed25519 signer) or ECDSARDFC2019 (a
	// P-256 or P-384 signer).
	Cryptosuite string
	// VerificationMethod is the DID URL of the signer's public key.
	VerificationMethod string
	// ProofPurpose defaults to AssertionMethod; use Authentication for a
	// presentation, with Challenge and Domain.
	ProofPurpose string
	// Created is the proof's creation time (seconds, UTC); zero omits it.
	Created time.Time
	// Expires, if not zero, is when the proof stops verifying.
	Expires time.Time
	// Challenge and Domain, if set, bind the proof to one verifier request.
	Challenge, Domain string
}

// KeyResolver returns the public key (ed25519.PublicKey or
// *ecdsa.PublicKey) that verificationMethod, a DID URL, named at time at.
// It is the only way Verify learns keys: the caller decides which methods
// it trusts, for instance only those the credential's issuer controls.
type KeyResolver func(ctx context.Context, verificationMethod string, at time.Time) (crypto.PublicKey, error)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Purpose is the proof purpose the caller expects; AssertionMethod if
	// empty.
	Purpose string
	// Challenge and Domain must equal the proof's (both empty, or both the
	// same): a presentation's verifier passes the ones it issued.
	Challenge, Domain string
	// Now is the verifier's clock. Required.
	Now time.Time
}

// Proof is a verified proof's options.
type Proof struct {
	Type               string
	Cryptosuite        string
	VerificationMethod string
	ProofPurpose       string
	Created            time.Time // zero if absent
	Expires            time.Time // zero if absent
	Challenge, Domain  string
}

// Verified is a document whose proof verified.
type Verified struct {
	// Document is the secured document as given, proof included.
	Document []byte
	// Proof is the proof that verified.
	Proof Proof
	// Key is the public key the KeyResolver returned for
	// Proof.VerificationMethod.
	Key crypto.PublicKey
}

// Suite signs and verifies with the contexts of one jsonld.Loader. It is
// safe for concurrent use; make one and keep it, since it caches processed
// contexts.
type Suite struct {
	jp *jsonld.Processor
}

// New returns a Suite that processes JSON-LD with the contexts of l (for
// instance jsonld.NewLoader(jsonld.HealthContext(baseURL))).
func New(l *jsonld.Loader) *Suite {
	return &Suite{jp: jsonld.NewProcessor(l)}
}

var defaultSuite = sync.OnceValue(func() *Suite {
	l, err := jsonld.NewLoader()
	if err != nil {
		panic(err) // the bundled contexts are part of the binary
	}
	return New(l)
})

// Sign is Default().Sign.
func Sign(ctx context.Context, doc []byte, signer crypto.Signer, opts Options) ([]byte, error) {
	return defaultSuite().Sign(ctx, doc, signer, opts)
}

// Verify is Default().Verify.
func Verify(ctx context.Context, doc []byte, resolve KeyResolver, opts VerifyOptions) (*Verified, error) {
	return defaultSuite().Verify(ctx, doc, resolve, opts)
}

// Default returns the Suite over the bundled contexts only.
func Default() *Suite { return defaultSuite() }

// proofJSON is the proof as Sign writes it, members in the specification's
// order.
type proofJSON struct {
	Type               string `json:"type"`
	Cryptosuite        string `json:"cryptosuite"`
	Created            string `json:"created,omitempty"`
	Expires            string `json:"expires,omitempty"`
	VerificationMethod string `json:"verificationMethod"`
	ProofPurpose       string `json:"proofPurpose"`
	Challenge          string `json:"challenge,omitempty"`
	Domain             string `json:"domain,omitempty"`
	ProofValue         string `json:"proofValue,omitempty"`
}

const timeFormat = "2006-01-02T15:04:05Z"

// Sign adds a DataIntegrityProof to doc, a JSON object without a proof,
// and returns the secured document: doc's bytes with a "proof" member
// appended. signer is an ed25519.PrivateKey or *ecdsa.PrivateKey (for
// instance keys.PrivateKey.Signer()) matching opts.Cryptosuite.
func (s *Suite) Sign(ctx context.Context, doc []byte, signer crypto.Signer, opts Options) ([]byte, error) {
	if _, err := did.ParseURL(opts.VerificationMethod); err != nil {
		return nil, fmt.Errorf("%w: verificationMethod: %w", ErrOptions, err)
	}
	return s.sign(ctx, doc, signer, opts)
}

// sign is Sign without the DID URL check, so that tests can reproduce the
// specifications' vectors, whose verification methods are https URLs.
func (s *Suite) sign(_ context.Context, doc []byte, signer crypto.Signer, opts Options) ([]byte, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: no signer", ErrOptions)
	}
	suite, err := suiteFor(opts.Cryptosuite, signer.Public())
	if err != nil {
		return nil, err
	}
	if opts.VerificationMethod == "" {
		return nil, fmt.Errorf("%w: no verification method", ErrOptions)
	}
	purpose := opts.ProofPurpose
	if purpose == "" {
		purpose = AssertionMethod
	}
	m, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	if _, has := m["proof"]; has {
		return nil, fmt.Errorf("%w: document already has a proof", ErrMalformed)
	}
	p := proofJSON{
		Type: ProofType, Cryptosuite: opts.Cryptosuite,
		VerificationMethod: opts.VerificationMethod, ProofPurpose: purpose,
		Challenge: opts.Challenge, Domain: opts.Domain,
	}
	if !opts.Created.IsZero() {
		p.Created = opts.Created.UTC().Format(timeFormat)
	}
	if !opts.Expires.IsZero() {
		p.Expires = opts.Expires.UTC().Format(timeFormat)
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var config map[string]any
	if err := json.Unmarshal(pb, &config); err != nil {
		return nil, err
	}
	data, err := s.hashData(suite, m, config)
	if err != nil {
		return nil, err
	}
	sig, err := suite.sign(signer, data)
	if err != nil {
		return nil, fmt.Errorf("dataintegrity: signing: %w", err)
	}
	p.ProofValue = "z" + base58Encode(sig)
	pb, err = json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return appendMember(doc, "proof", pb), nil
}

// hashData is the suites' "hashing" step: hash(canonical proof
// configuration) ‖ hash(canonical document without proof). config gets the
// document's @context, as the specifications say.
func (s *Suite) hashData(suite *cryptosuite, doc, config map[string]any) ([]byte, error) {
	unsecured := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "proof" {
			unsecured[k] = v
		}
	}
	if c, ok := doc["@context"]; ok {
		config["@context"] = c
	}
	cdoc, err := s.jp.Canonicalize(unsecured)
	if err != nil {
		return nil, fmt.Errorf("%w: document: %w", ErrJSONLD, err)
	}
	cproof, err := s.jp.Canonicalize(config)
	if err != nil {
		return nil, fmt.Errorf("%w: proof configuration: %w", ErrJSONLD, err)
	}
	h := suite.hash()
	h.Write(cproof)
	out := h.Sum(nil)
	h.Reset()
	h.Write(cdoc)
	return h.Sum(out), nil
}

// Verify checks the single DataIntegrityProof on doc and returns the
// verified result, or an error wrapping the sentinel of the check that
// failed.
func (s *Suite) Verify(ctx context.Context, doc []byte, resolve KeyResolver, opts VerifyOptions) (*Verified, error) {
	if opts.Now.IsZero() {
		return nil, fmt.Errorf("%w: VerifyOptions.Now is required", ErrOptions)
	}
	if resolve == nil {
		return nil, fmt.Errorf("%w: no key resolver", ErrOptions)
	}
	m, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	raw, ok := m["proof"]
	if !ok {
		return nil, fmt.Errorf("%w: no proof", ErrMalformed)
	}
	if list, isList := raw.([]any); isList {
		if len(list) != 1 {
			return nil, fmt.Errorf("%w: proof sets are not supported", ErrMalformed)
		}
		raw = list[0]
	}
	pm, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: proof is not an object", ErrMalformed)
	}
	p, err := readProof(pm)
	if err != nil {
		return nil, err
	}
	if p.Type != ProofType {
		return nil, fmt.Errorf("%w: proof type %q", ErrUnsupportedCryptosuite, p.Type)
	}
	suite, ok := suites[p.Cryptosuite]
	if !ok {
		return nil, fmt.Errorf("%w: cryptosuite %q", ErrUnsupportedCryptosuite, p.Cryptosuite)
	}
	pv, _ := pm["proofValue"].(string)
	sig, err := decodeProofValue(pv)
	if err != nil {
		return nil, err
	}
	want := opts.Purpose
	if want == "" {
		want = AssertionMethod
	}
	if p.ProofPurpose != want {
		return nil, fmt.Errorf("%w: %q, expected %q", ErrPurpose, p.ProofPurpose, want)
	}
	if p.Challenge != opts.Challenge {
		return nil, ErrChallenge
	}
	if p.Domain != opts.Domain {
		return nil, ErrDomain
	}
	if !p.Expires.IsZero() && !opts.Now.Before(p.Expires) {
		return nil, fmt.Errorf("%w: expired at %s", ErrExpired, p.Expires.Format(time.RFC3339))
	}
	if !p.Created.IsZero() && p.Created.After(opts.Now.Add(MaxClockSkew)) {
		return nil, fmt.Errorf("%w: created in the future (%s)", ErrExpired, p.Created.Format(time.RFC3339))
	}
	if pc, has := pm["@context"]; has && !contextPrefix(pc, m["@context"]) {
		return nil, fmt.Errorf("%w: the proof's @context is not a prefix of the document's", ErrMalformed)
	}
	at := p.Created
	if at.IsZero() {
		at = opts.Now
	}
	key, err := resolve(ctx, p.VerificationMethod, at)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if err := suite.checkKey(key); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	suite = suite.forKey(key)
	if len(sig) != suite.sigLen(key) {
		return nil, fmt.Errorf("%w: %d-byte signature", ErrProofValue, len(sig))
	}
	config := make(map[string]any, len(pm))
	for k, v := range pm {
		if k != "proofValue" {
			config[k] = v
		}
	}
	data, err := s.hashData(suite, m, config)
	if err != nil {
		return nil, err
	}
	if !suite.verify(key, data, sig) {
		return nil, ErrSignature
	}
	return &Verified{Document: slices.Clone(doc), Proof: p, Key: key}, nil
}

func parseObject(doc []byte) (map[string]any, error) {
	if len(doc) > maxDocument {
		return nil, fmt.Errorf("%w: document larger than %d bytes", ErrMalformed, maxDocument)
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if len(bytes.TrimLeft(doc[d.InputOffset():], " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%w: text after the JSON object", ErrMalformed)
	}
	return m, nil
}

// readProof reads the members Verify checks; their JSON types must be
// right.
func readProof(pm map[string]any) (Proof, error) {
	var p Proof
	str := func(name string, dst *string, required bool) error {
		v, has := pm[name]
		if !has {
			if required {
				return fmt.Errorf("%w: proof has no %s", ErrMalformed, name)
			}
			return nil
		}
		s, ok := v.(string)
		if !ok || (required && s == "") {
			return fmt.Errorf("%w: proof %s is not a non-empty string", ErrMalformed, name)
		}
		*dst = s
		return nil
	}
	tm := func(name string, dst *time.Time) error {
		var s string
		if err := str(name, &s, false); err != nil || s == "" {
			return err
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("%w: proof %s is not a date-time", ErrMalformed, name)
		}
		*dst = t
		return nil
	}
	var pv string
	for _, f := range []error{
		str("type", &p.Type, true),
		str("cryptosuite", &p.Cryptosuite, p.Type == ProofType),
		str("verificationMethod", &p.VerificationMethod, true),
		str("proofPurpose", &p.ProofPurpose, true),
		str("challenge", &p.Challenge, false),
		str("domain", &p.Domain, false),
		str("proofValue", &pv, false),
		tm("created", &p.Created),
		tm("expires", &p.Expires),
	} {
		if f != nil {
			return p, f
		}
	}
	return p, nil
}

func decodeProofValue(pv string) ([]byte, error) {
	if len(pv) < 2 || pv[0] != 'z' {
		return nil, fmt.Errorf("%w: not base58btc multibase", ErrProofValue)
	}
	sig, err := base58Decode(pv[1:], 96)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProofValue, err)
	}
	return sig, nil
}

// contextPrefix reports whether proof context pc is a prefix of document
// context dc (VC-DI-EdDSA and VC-DI-ECDSA, "verify proof" step 2).
func contextPrefix(pc, dc any) bool {
	list := func(v any) []any {
		if l, ok := v.([]any); ok {
			return l
		}
		return []any{v}
	}
	p, d := list(pc), list(dc)
	if len(p) > len(d) {
		return false
	}
	for i := range p {
		a, _ := json.Marshal(p[i])
		b, _ := json.Marshal(d[i])
		if !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}

// appendMember adds "name": value to the JSON object doc, keeping doc's
// bytes.
func appendMember(doc []byte, name string, value []byte) []byte {
	end := bytes.LastIndexByte(doc, '}')
	body := bytes.TrimRight(doc[:end], " \t\r\n")
	out := make([]byte, 0, len(doc)+len(name)+len(value)+8)
	out = append(out, body...)
	if body[len(body)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, `":`...)
	out = append(out, value...)
	out = append(out, '}')
	return out
}

// cryptosuite is one suite's hash, signature and key rules.
type cryptosuite struct {
	name     string
	hash     func() hashWriter
	checkKey func(crypto.PublicKey) error
	sigLen   func(crypto.PublicKey) int
	sign     func(crypto.Signer, []byte) ([]byte, error)
	verify   func(crypto.PublicKey, []byte, []byte) bool
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
}

var suites = map[string]*cryptosuite{
	EdDSARDFC2022: {
		name: EdDSARDFC2022,
		hash: func() hashWriter { return sha256.New() },
		checkKey: func(k crypto.PublicKey) error {
			if pk, ok := k.(ed25519.PublicKey); !ok || len(pk) != ed25519.PublicKeySize {
				return fmt.Errorf("%s needs an Ed25519 key, got %T", EdDSARDFC2022, k)
			}
			return nil
		},
		sigLen: func(crypto.PublicKey) int { return ed25519.SignatureSize },
		sign: func(s crypto.Signer, data []byte) ([]byte, error) {
			return s.Sign(nil, data, crypto.Hash(0))
		},
		verify: func(k crypto.PublicKey, data, sig []byte) bool {
			return ed25519.Verify(k.(ed25519.PublicKey), data, sig)
		},
	},
	ECDSARDFC2019: {
		name: ECDSARDFC2019,
		checkKey: func(k crypto.PublicKey) error {
			pk, ok := k.(*ecdsa.PublicKey)
			if !ok || (pk.Curve != elliptic.P256() && pk.Curve != elliptic.P384()) {
				return fmt.Errorf("%s needs a P-256 or P-384 key, got %T", ECDSARDFC2019, k)
			}
			return nil
		},
		sigLen: func(k crypto.PublicKey) int { return 2 * curveBytes(k.(*ecdsa.PublicKey)) },
		sign: func(s crypto.Signer, data []byte) ([]byte, error) {
			pk := s.Public().(*ecdsa.PublicKey)
			h, digest := ecdsaDigest(pk, data)
			der, err := s.Sign(rand.Reader, digest, h)
			if err != nil {
				return nil, err
			}
			var rs struct{ R, S *big.Int }
			if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("signer returned a malformed ECDSA signature")
			}
			n := curveBytes(pk)
			out := make([]byte, 2*n)
			rs.R.FillBytes(out[:n])
			rs.S.FillBytes(out[n:])
			return out, nil
		},
		verify: func(k crypto.PublicKey, data, sig []byte) bool {
			pk := k.(*ecdsa.PublicKey)
			_, digest := ecdsaDigest(pk, data)
			n := curveBytes(pk)
			r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			return ecdsa.Verify(pk, digest, r, s)
		},
	},
}

func curveBytes(pk *ecdsa.PublicKey) int { return (pk.Curve.Params().BitSize + 7) / 8 }

func ecdsaDigest(pk *ecdsa.PublicKey, data []byte) (crypto.Hash, []byte) {
	if pk.Curve == elliptic.P384() {
		sum := sha512.Sum384(data)
		return crypto.SHA384, sum[:]
	}
	sum := sha256.Sum256(data)
	return crypto.SHA256, sum[:]
}

// suiteFor returns the suite for name after checking that pub fits it.
// ecdsa-rdfc-2019 hashes with SHA-384 for P-384 keys.
func suiteFor(name string, pub crypto.PublicKey) (*cryptosuite, error) {
	s, ok := suites[name]
	if !ok {
		return nil, fmt.Errorf("%w: cryptosuite %q", ErrUnsupportedCryptosuite, name)
	}
	if err := s.checkKey(pub); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return s.forKey(pub), nil
}

// forKey returns the suite with its hash chosen for the key (P-384 uses
// SHA-384 throughout).
func (s *cryptosuite) forKey(pub crypto.PublicKey) *cryptosuite {
	if s.hash != nil {
		return s
	}
	c := *s
	if pk, ok := pub.(*ecdsa.PublicKey); ok && pk.Curve == elliptic.P384() {
		c.hash = func() hashWriter { return sha512.New384() }
	} else {
		c.hash = func() hashWriter { return sha256.New() }
	}
	return &c
}
