package issuer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// DPoP, RFC 9449: a wallet that sends a DPoP proof to the token endpoint
// gets an access token bound to the proof's key (token_type "DPoP"); every
// later use of that token needs "Authorization: DPoP <token>" and a fresh
// proof from the same key that names the request and the token.

// DPoPType is the typ of a DPoP proof JWT (RFC 9449 §4.2).
const DPoPType = "dpop+jwt"

// dpopAlgs are the DPoP proof algorithms the issuer accepts (and advertises
// as dpop_signing_alg_values_supported).
var dpopAlgs = []string{"ES256", "EdDSA"}

// maxDPoPSize bounds one DPoP proof; a proof with an EC key is under 1 KiB.
const maxDPoPSize = 8 << 10

// maxJTILen bounds a proof's jti (it is hashed into a store key).
const maxJTILen = 256

const (
	dpopJTIPrefix  = "vci/dpop-jti/" // sha256(jkt, jti) → seen; kept until the proof expires
	dpopNonceAD    = "medid issuer dpop-nonce v1"
	schemeDPoP     = "DPoP"
	schemeBearer   = "Bearer"
	dpopNonceBytes = 8
)

// DPoPInput is what a request carries for DPoP and what its proof must
// match.
type DPoPInput struct {
	// Proofs are the values of the request's DPoP header; more than one
	// is refused.
	Proofs []string
	// Method is the request's HTTP method (htm).
	Method string
	// URL is the endpoint's public URL (htu), e.g. the credential issuer
	// followed by "/token". Query and fragment are ignored.
	URL string
}

// Presented is an access token as a resource request presented it.
type Presented struct {
	// Authorization is the request's Authorization header.
	Authorization string
	DPoP          DPoPInput
}

// dpopProof is a DPoP proof whose type, algorithm, key, signature, htm,
// htu, iat and (when asked) ath verified. The jti is not yet known to be
// fresh and the nonce not yet checked: the Service does both.
type dpopProof struct {
	JKT   string // RFC 7638 thumbprint of the proof's key
	JTI   string
	IAT   time.Time
	Nonce string
}

// dpopErr is an invalid_dpop_proof error with the given status (400 at the
// token endpoint, 401 at resource endpoints).
func dpopErr(status int, format string, args ...any) *OAuthError {
	return oauthErr(CodeInvalidDPoPProof, status, format, args...)
}

// verifyDPoP checks one DPoP proof JWT against the request it came with
// (RFC 9449 §4.3): typ dpop+jwt, an allowlisted asymmetric algorithm, a
// public jwk header that matches the algorithm and verifies the signature,
// htm and htu naming this request, iat within [now-maxAge, now+skew], a jti,
// and, when accessToken is set, ath = base64url(SHA-256(accessToken)).
// Errors are *OAuthError invalid_dpop_proof with status 400.
func verifyDPoP(compact string, in DPoPInput, accessToken string, now time.Time, maxAge, skew time.Duration) (*dpopProof, error) {
	const status = http.StatusBadRequest
	if len(compact) > maxDPoPSize {
		return nil, dpopErr(status, "the DPoP proof exceeds %d bytes", maxDPoPSize)
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, dpopErr(status, "the DPoP proof is not a signed compact JWT")
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, dpopErr(status, "the DPoP proof header is not base64url")
	}
	var hdr struct {
		Typ  *string         `json:"typ"`
		Alg  *string         `json:"alg"`
		JWK  json.RawMessage `json:"jwk"`
		Crit json.RawMessage `json:"crit"`
		B64  json.RawMessage `json:"b64"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, dpopErr(status, "the DPoP proof header is not a JSON object of the expected members")
	}
	if hdr.Typ == nil || *hdr.Typ != DPoPType {
		return nil, dpopErr(status, "the DPoP proof typ must be %q", DPoPType)
	}
	if hdr.Alg == nil {
		return nil, dpopErr(status, "the DPoP proof has no alg")
	}
	var ja jwa.SignatureAlgorithm
	switch *hdr.Alg {
	case "ES256":
		ja = jwa.ES256()
	case "EdDSA":
		ja = jwa.EdDSA()
	default:
		// Never none, never a MAC: the proof must be signed by the key it
		// carries.
		return nil, dpopErr(status, "the DPoP proof algorithm %q is not allowed (%s)", *hdr.Alg, strings.Join(dpopAlgs, ", "))
	}
	if hdr.Crit != nil || hdr.B64 != nil {
		return nil, dpopErr(status, "the DPoP proof header must not carry crit or b64")
	}
	if len(hdr.JWK) == 0 || bytes.Equal(hdr.JWK, []byte("null")) {
		return nil, dpopErr(status, "the DPoP proof must carry its public key in the jwk header")
	}
	pub, keyAlg, err := keys.PublicKeyFromJWK(hdr.JWK)
	if err != nil {
		// Also refuses a jwk holding private or symmetric key material.
		return nil, dpopErr(status, "the DPoP proof jwk is not an accepted public key: %v", err)
	}
	if string(keyAlg) != *hdr.Alg {
		return nil, dpopErr(status, "the DPoP proof algorithm does not match its key")
	}
	payload, err := jws.Verify([]byte(compact), jws.WithKey(ja, pub))
	if err != nil {
		return nil, dpopErr(status, "the DPoP proof signature does not verify with its jwk")
	}
	var claims struct {
		JTI   *string      `json:"jti"`
		HTM   *string      `json:"htm"`
		HTU   *string      `json:"htu"`
		IAT   *json.Number `json:"iat"`
		ATH   *string      `json:"ath"`
		Nonce *string      `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, dpopErr(status, "the DPoP proof claims are not a JSON object of the expected members")
	}
	switch {
	case claims.JTI == nil || *claims.JTI == "":
		return nil, dpopErr(status, "the DPoP proof needs a jti")
	case len(*claims.JTI) > maxJTILen:
		return nil, dpopErr(status, "the DPoP proof jti exceeds %d bytes", maxJTILen)
	case claims.HTM == nil || *claims.HTM != in.Method:
		return nil, dpopErr(status, "the DPoP proof htm must be the request method %s", in.Method)
	case claims.HTU == nil || !sameHTU(*claims.HTU, in.URL):
		return nil, dpopErr(status, "the DPoP proof htu must be %s", in.URL)
	case claims.IAT == nil:
		return nil, dpopErr(status, "the DPoP proof needs an iat")
	}
	iatSec, err := claims.IAT.Int64()
	if err != nil {
		return nil, dpopErr(status, "the DPoP proof iat must be a NumericDate in whole seconds")
	}
	iat := time.Unix(iatSec, 0)
	if iat.After(now.Add(skew)) {
		return nil, dpopErr(status, "the DPoP proof iat is in the future")
	}
	if iat.Before(now.Add(-maxAge)) {
		return nil, dpopErr(status, "the DPoP proof is too old (iat more than %v ago); make a fresh one per request", maxAge)
	}
	if accessToken != "" {
		if claims.ATH == nil || *claims.ATH == "" {
			return nil, dpopErr(status, "the DPoP proof needs ath, the hash of the access token")
		}
		want := accessTokenHash(accessToken)
		if subtle.ConstantTimeCompare([]byte(*claims.ATH), []byte(want)) != 1 {
			return nil, dpopErr(status, "the DPoP proof ath does not match the access token")
		}
	}
	jkt, err := keys.ThumbprintOf(pub)
	if err != nil {
		return nil, dpopErr(status, "the DPoP proof key has no thumbprint")
	}
	p := &dpopProof{JKT: jkt, JTI: *claims.JTI, IAT: iat}
	if claims.Nonce != nil {
		p.Nonce = *claims.Nonce
	}
	return p, nil
}

// accessTokenHash is the ath of RFC 9449 §4.2: base64url(SHA-256(token)).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameHTU compares a proof's htu with the endpoint URL without query and
// fragment, after syntax- and scheme-based normalisation (RFC 9449 §4.3,
// RFC 3986 §6.2.2 and §6.2.3): case-insensitive scheme and host, default
// ports dropped, an empty path read as "/".
func sameHTU(got, want string) bool {
	g, ok := normalizeHTU(got)
	if !ok {
		return false
	}
	w, ok := normalizeHTU(want)
	return ok && g == w
}

func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.Contains(host, "%") {
		return "", false // an IPv6 zone names no public endpoint
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// checkDPoP verifies the single DPoP proof of a request and records its jti
// so it cannot be replayed; status is the HTTP status of its errors (400
// at the token endpoint, 401 at resources). wantJKT, if set, is the key
// thumbprint the proof must have. With Options.DPoPNonce the proof must
// carry a current server nonce (use_dpop_nonce otherwise).
func (s *Service) checkDPoP(ctx context.Context, in DPoPInput, accessToken, wantJKT string, status int) (*dpopProof, error) {
	if len(in.Proofs) != 1 {
		return nil, dpopErr(status, "exactly one DPoP header is required")
	}
	now := s.opt.Now()
	p, err := verifyDPoP(in.Proofs[0], in, accessToken, now, s.opt.DPoPMaxAge, s.opt.Skew)
	if err != nil {
		if oe := AsOAuth(err); oe != nil {
			oe.Status = status
		}
		return nil, err
	}
	if wantJKT != "" && subtle.ConstantTimeCompare([]byte(p.JKT), []byte(wantJKT)) != 1 {
		return nil, dpopErr(status, "the DPoP proof key is not the key the access token is bound to")
	}
	if s.opt.DPoPNonce && !s.validDPoPNonce(p.Nonce, now) {
		return nil, oauthErr(CodeUseDPoPNonce, status, "the DPoP proof must carry the nonce from the DPoP-Nonce response header")
	}
	// The proof is acceptable until iat+maxAge; remember its jti that long.
	ttl := p.IAT.Add(s.opt.DPoPMaxAge).Sub(now) + time.Second
	if ttl < time.Second {
		ttl = time.Second
	}
	err = s.store.CompareAndSwap(ctx, dpopJTIPrefix+hashKey(p.JKT+"\x00"+p.JTI), nil, []byte{1}, ttl)
	if errors.Is(err, kv.ErrConflict) {
		return nil, dpopErr(status, "the DPoP proof was already used (jti replayed); make a fresh one per request")
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DPoPNonce returns a fresh server nonce for the DPoP-Nonce header. It is
// stateless: the issue time sealed under the issuer's key, so any instance
// sharing the master key accepts it until Options.DPoPNonceTTL passes.
func (s *Service) DPoPNonce() (string, error) {
	var b [dpopNonceBytes]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.opt.Now().Unix()))
	sealed, err := s.sealer.Seal(b[:], []byte(dpopNonceAD))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Service) validDPoPNonce(n string, now time.Time) bool {
	if n == "" || len(n) > 256 {
		return false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(n)
	if err != nil {
		return false
	}
	b, err := s.sealer.Open(raw, []byte(dpopNonceAD))
	if err != nil || len(b) != dpopNonceBytes {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	return !issued.After(now.Add(s.opt.Skew)) && now.Sub(issued) < s.opt.DPoPNonceTTL
}

// Access is an access token that verified at a resource endpoint: known,
// unexpired, and, when it is DPoP-bound, presented with a valid proof from
// its key. Only Authorize makes one.
type Access struct {
	tokenKey  string // store key of the grant
	tokenHash string
	raw       []byte // the stored grant, for compare-and-swap
	g         grant
}

// Authorize checks the access token a resource request (credential,
// deferred credential, notification) presented. A DPoP-bound token must come
// as "Authorization: DPoP <token>" with a proof from the bound key that
// names this request and the token (ath); it is refused as Bearer. A Bearer
// token is refused under the DPoP scheme.
func (s *Service) Authorize(ctx context.Context, p Presented) (*Access, error) {
	const status = http.StatusUnauthorized
	scheme, tok, _ := strings.Cut(p.Authorization, " ")
	tok = strings.TrimSpace(tok)
	isDPoP := strings.EqualFold(scheme, schemeDPoP)
	if (!isDPoP && !strings.EqualFold(scheme, schemeBearer)) || tok == "" {
		return nil, invalidToken("an access token is required (Authorization: Bearer … or DPoP …)")
	}
	a := &Access{tokenKey: tokenPrefix + hashKey(tok), tokenHash: hashKey(tok)}
	raw, err := s.store.Get(ctx, a.tokenKey)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, invalidToken("the access token is invalid or expired")
	}
	if err != nil {
		return nil, err
	}
	if err := s.openInto(a.tokenKey, raw, &a.g); err != nil {
		return nil, err
	}
	a.raw = raw
	if !s.opt.Now().Before(a.g.usableUntil()) {
		return nil, invalidToken("the access token has expired")
	}
	switch {
	case a.g.JKT != "" && !isDPoP:
		return nil, invalidToken("this access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof")
	case a.g.JKT == "" && isDPoP:
		return nil, invalidToken("this access token is not DPoP-bound: send it as Authorization: Bearer")
	case a.g.JKT == "":
		return a, nil
	}
	if _, err := s.checkDPoP(ctx, p.DPoP, tok, a.g.JKT, status); err != nil {
		return nil, err
	}
	return a, nil
}
