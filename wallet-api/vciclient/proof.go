package vciclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// ProofType is the typ of an OpenID4VCI key proof JWT.
const ProofType = "openid4vci-proof+jwt"

// Proof builds a jwt key proof (OpenID4VCI 1.0 Appendix F.1) signed by k:
// typ openid4vci-proof+jwt, the public key in the jwk header, and claims
// aud (the credential issuer), iat and nonce (the c_nonce). It carries no
// iss: the pre-authorized flow is anonymous.
func Proof(k *keys.PrivateKey, audience, nonce string, iat time.Time) (string, error) {
	if k == nil || k.Signer() == nil {
		return "", errors.New("vciclient: proof: no key")
	}
	if audience == "" {
		return "", errors.New("vciclient: proof: no audience")
	}
	var alg jwa.SignatureAlgorithm
	switch k.Algorithm() {
	case keys.ES256:
		alg = jwa.ES256()
	case keys.EdDSA:
		alg = jwa.EdDSA()
	default:
		return "", fmt.Errorf("vciclient: proof: unsupported algorithm %s", k.Algorithm())
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, ProofType); err != nil {
		return "", err
	}
	if err := h.Set(jws.JWKKey, pub); err != nil {
		return "", err
	}
	claims := map[string]any{"aud": audience, "iat": iat.Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("vciclient: proof: %w", err)
	}
	return string(out), nil
}
