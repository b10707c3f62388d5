package vciclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// IssuerMetadata is the credential issuer metadata (OpenID4VCI 1.0 §12.2),
// the members this client uses.
type IssuerMetadata struct {
	CredentialIssuer        string                   `json:"credential_issuer"`
	AuthorizationServers    []string                 `json:"authorization_servers,omitempty"`
	CredentialEndpoint      string                   `json:"credential_endpoint"`
	NonceEndpoint           string                   `json:"nonce_endpoint,omitempty"`
	NotificationEndpoint    string                   `json:"notification_endpoint,omitempty"`
	BatchCredentialIssuance *BatchIssuance           `json:"batch_credential_issuance,omitempty"`
	Display                 []Display                `json:"display,omitempty"`
	Configurations          map[string]Configuration `json:"credential_configurations_supported"`
}

// BatchIssuance says how many credentials one request may ask for.
type BatchIssuance struct {
	BatchSize int `json:"batch_size"`
}

// BatchSize is the most proofs one credential request may carry: 1 when
// the issuer does not offer batch issuance.
func (m *IssuerMetadata) BatchSize() int {
	if m.BatchCredentialIssuance == nil || m.BatchCredentialIssuance.BatchSize < 2 {
		return 1
	}
	return m.BatchCredentialIssuance.BatchSize
}

// Configuration is one entry of credential_configurations_supported.
type Configuration struct {
	Format                      string                   `json:"format"`
	Scope                       string                   `json:"scope,omitempty"`
	CryptographicBindingMethods []string                 `json:"cryptographic_binding_methods_supported,omitempty"`
	ProofTypes                  map[string]ProofTypeInfo `json:"proof_types_supported,omitempty"`
	VCT                         string                   `json:"vct,omitempty"`
	CredentialDefinition        *CredentialDefinition    `json:"credential_definition,omitempty"`
	Metadata                    *CredentialMetadata      `json:"credential_metadata,omitempty"`
	// Display and Claims at the top level are the pre-1.0 drafts' places;
	// Metadata takes precedence.
	Display []Display          `json:"display,omitempty"`
	Claims  []ClaimDescription `json:"-"`
}

// ProofTypeInfo lists the algorithms of one proof type.
type ProofTypeInfo struct {
	SigningAlgs []string `json:"proof_signing_alg_values_supported"`
}

// CredentialDefinition is the W3C VC types of a jwt_vc_json or ldp_vc
// configuration, and for ldp_vc its JSON-LD contexts (Appendix A.1.3).
type CredentialDefinition struct {
	Type []string `json:"type,omitempty"`
	// Context is @context as the issuer wrote it (a string or an array);
	// see ContextURLs.
	Context json.RawMessage `json:"@context,omitempty"`
}

// ContextURLs returns the context URLs of @context (a URL or an array of
// URLs and inline contexts; inline contexts are skipped), or nil.
func (d *CredentialDefinition) ContextURLs() []string {
	if d == nil || len(d.Context) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(d.Context, &one) == nil {
		return []string{one}
	}
	var list []any
	if json.Unmarshal(d.Context, &list) != nil {
		return nil
	}
	var out []string
	for _, c := range list {
		if s, ok := c.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// CredentialMetadata is a configuration's display information.
type CredentialMetadata struct {
	Display []Display          `json:"display,omitempty"`
	Claims  []ClaimDescription `json:"claims,omitempty"`
}

// ClaimDescription describes one claim for display.
type ClaimDescription struct {
	Path      []any     `json:"path"`
	Mandatory bool      `json:"mandatory,omitempty"`
	Display   []Display `json:"display,omitempty"`
}

// Display is a localised name, with optional description, logo and colours.
type Display struct {
	Name            string `json:"name,omitempty"`
	Locale          string `json:"locale,omitempty"`
	Description     string `json:"description,omitempty"`
	Logo            *Logo  `json:"logo,omitempty"`
	BackgroundColor string `json:"background_color,omitempty"`
	TextColor       string `json:"text_color,omitempty"`
}

// Logo is a display image.
type Logo struct {
	URI     string `json:"uri"`
	AltText string `json:"alt_text,omitempty"`
}

// DisplayInfo returns the configuration's display entries and claim
// descriptions, preferring credential_metadata.
func (c Configuration) DisplayInfo() ([]Display, []ClaimDescription) {
	if c.Metadata != nil {
		d := c.Metadata.Display
		if len(d) == 0 {
			d = c.Display
		}
		return d, c.Metadata.Claims
	}
	return c.Display, c.Claims
}

// ProofAlgs returns the jwt proof algorithms the configuration accepts
// (nil when it does not ask for a key proof).
func (c Configuration) ProofAlgs() []string {
	if p, ok := c.ProofTypes["jwt"]; ok {
		return p.SigningAlgs
	}
	return nil
}

// AuthServerMetadata is RFC 8414 authorization server metadata, the members
// this client uses.
type AuthServerMetadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	// PreAuthorizedAnonymous says a pre-authorized code needs no client
	// authentication.
	PreAuthorizedAnonymous bool `json:"pre-authorized_grant_anonymous_access_supported,omitempty"`
}

// WellKnownURL returns the well-known URL of an identifier: the suffix is
// inserted between the host and the path, as OpenID4VCI 1.0 §12.2.2 and
// RFC 8414 §3.1 say ("https://h/tenant" → "https://h/.well-known/x/tenant").
func WellKnownURL(identifier, suffix string) (string, error) {
	if err := CheckIssuerID(identifier); err != nil {
		return "", err
	}
	u, _ := url.Parse(identifier)
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + "/.well-known/" + suffix + path, nil
}

// ErrMetadata is wrapped by errors about unacceptable metadata.
var ErrMetadata = errors.New("vciclient: unacceptable metadata")

func parseIssuerMetadata(b []byte, issuer string) (*IssuerMetadata, error) {
	if err := checkNoDuplicates(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	var m IssuerMetadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: credential issuer metadata is not a valid JSON object", ErrMetadata)
	}
	// Pre-1.0 drafts put claims at the top level of a configuration.
	var legacy struct {
		Configurations map[string]struct {
			Claims json.RawMessage `json:"claims"`
		} `json:"credential_configurations_supported"`
	}
	if json.Unmarshal(b, &legacy) == nil {
		for id, c := range legacy.Configurations {
			var claims []ClaimDescription
			if json.Unmarshal(c.Claims, &claims) == nil {
				cfg := m.Configurations[id]
				cfg.Claims = claims
				m.Configurations[id] = cfg
			}
		}
	}
	if m.CredentialIssuer != issuer {
		return nil, fmt.Errorf("%w: credential_issuer %q is not the issuer %q the offer names", ErrMetadata, m.CredentialIssuer, issuer)
	}
	if m.CredentialEndpoint == "" {
		return nil, fmt.Errorf("%w: no credential_endpoint", ErrMetadata)
	}
	if len(m.Configurations) == 0 {
		return nil, fmt.Errorf("%w: no credential_configurations_supported", ErrMetadata)
	}
	for _, as := range m.AuthorizationServers {
		if err := CheckIssuerID(as); err != nil {
			return nil, fmt.Errorf("%w: authorization_servers: %v", ErrMetadata, err)
		}
	}
	return &m, nil
}

func parseAuthServerMetadata(b []byte, issuer string) (*AuthServerMetadata, error) {
	if err := checkNoDuplicates(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	var m AuthServerMetadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: authorization server metadata is not a valid JSON object", ErrMetadata)
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("%w: authorization server issuer %q is not %q", ErrMetadata, m.Issuer, issuer)
	}
	if m.TokenEndpoint == "" {
		return nil, fmt.Errorf("%w: no token_endpoint", ErrMetadata)
	}
	return &m, nil
}
