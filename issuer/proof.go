package issuer

import (
	"crypto"
	"encoding/json"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// ProofType is the typ of an OpenID4VCI key proof JWT.
const ProofType = "openid4vci-proof+jwt"

// maxProofSize bounds one key proof.
const maxProofSize = 16 << 10

type verifiedProof struct {
	Key        crypto.PublicKey
	JWK        json.RawMessage
	Thumbprint string
	Nonce      string
}

// verifyProof checks an OpenID4VCI jwt key proof (Appendix F.1): typ,
// an allowlisted algorithm, the key in the jwk header (public members only),
// the signature, aud = the credential issuer, iat within bounds, and a
// nonce (checked against the store by the caller).
func verifyProof(compact, audience string, now time.Time, maxAge, skew time.Duration) (*verifiedProof, error) {
	if len(compact) > maxProofSize {
		return nil, invalidProof("key proof exceeds %d bytes", maxProofSize)
	}
	msg, err := jws.Parse([]byte(compact), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, invalidProof("key proof is not a compact JWS")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := hdr.Type(); typ != ProofType {
		return nil, invalidProof("key proof typ must be %q", ProofType)
	}
	alg, _ := hdr.Algorithm()
	var ja jwa.SignatureAlgorithm
	switch alg.String() {
	case "ES256":
		ja = jwa.ES256()
	case "EdDSA":
		ja = jwa.EdDSA()
	default:
		return nil, invalidProof("key proof algorithm %q is not allowed (ES256, EdDSA)", alg.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(mustHeaderJSON(hdr), &raw); err != nil {
		return nil, invalidProof("key proof header unreadable")
	}
	if _, ok := raw["x5c"]; ok {
		return nil, invalidProof("x5c key proofs are not supported; send the key as jwk")
	}
	jwkRaw, ok := raw["jwk"]
	if !ok {
		return nil, invalidProof("key proof must carry the holder key in the jwk header")
	}
	if _, ok := raw["kid"]; ok {
		return nil, invalidProof("key proof must carry jwk or kid, not both")
	}
	pub, keyAlg, err := keys.PublicKeyFromJWK(jwkRaw)
	if err != nil {
		return nil, invalidProof("key proof jwk: %v", err)
	}
	if (keyAlg == keys.ES256) != (ja.String() == "ES256") {
		return nil, invalidProof("key proof algorithm does not match its key")
	}
	payload, err := jws.Verify([]byte(compact), jws.WithKey(ja, pub))
	if err != nil {
		return nil, invalidProof("key proof signature does not verify")
	}
	var claims struct {
		Aud   json.RawMessage `json:"aud"`
		Iat   *json.Number    `json:"iat"`
		Nonce string          `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, invalidProof("key proof claims unreadable")
	}
	if !audienceContains(claims.Aud, audience) {
		return nil, invalidProof("key proof aud must be the credential issuer %s", audience)
	}
	if claims.Iat == nil {
		return nil, invalidProof("key proof iat is required")
	}
	iatSec, err := claims.Iat.Int64()
	if err != nil {
		return nil, invalidProof("key proof iat must be a NumericDate")
	}
	iat := time.Unix(iatSec, 0)
	if iat.After(now.Add(skew)) {
		return nil, invalidProof("key proof iat is in the future")
	}
	if iat.Before(now.Add(-maxAge)) {
		return nil, invalidProof("key proof is too old (iat more than %v ago)", maxAge)
	}
	if claims.Nonce == "" {
		return nil, &OAuthError{Code: CodeInvalidNonce, Status: http.StatusBadRequest,
			Description: "key proof nonce is required; fetch a c_nonce from the nonce endpoint"}
	}
	jwkJSON, err := keys.PublicJWKJSONOf(pub)
	if err != nil {
		return nil, err
	}
	tp, err := keys.ThumbprintOf(pub)
	if err != nil {
		return nil, err
	}
	return &verifiedProof{Key: pub, JWK: jwkJSON, Thumbprint: tp, Nonce: claims.Nonce}, nil
}

func mustHeaderJSON(h jws.Headers) []byte {
	b, err := json.Marshal(h)
	if err != nil {
		return []byte("{}")
	}
	return b
}

func audienceContains(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}
