package vciclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// GrantPreAuthorized is the OAuth grant type of the pre-authorized code flow.
const GrantPreAuthorized = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

// OfferScheme is the URI scheme of credential offer links.
const OfferScheme = "openid-credential-offer"

// MaxOfferLink bounds an offer link; MaxOffer bounds a credential offer
// object, whether inline or fetched by reference.
const (
	MaxOfferLink = 16 << 10
	MaxOffer     = 16 << 10
)

// ErrMalformedOffer is wrapped by every error about an offer link or a
// credential offer object that is not acceptable.
var ErrMalformedOffer = errors.New("vciclient: malformed credential offer")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedOffer}, args...)...)
}

// OfferLink is a parsed credential offer link: exactly one of Offer (the
// credential_offer parameter, by value) and URI (credential_offer_uri, by
// reference) is set.
type OfferLink struct {
	Offer *CredentialOffer
	URI   string
}

// CredentialOffer is the credential offer object (OpenID4VCI 1.0 §4.1.1).
// It may carry a pre-authorized code, a secret: it prints redacted.
type CredentialOffer struct {
	CredentialIssuer string   `json:"credential_issuer"`
	ConfigurationIDs []string `json:"credential_configuration_ids"`
	Grants           Grants   `json:"grants"`
}

// Grants are the grant types an offer allows.
type Grants struct {
	PreAuthorized *PreAuthorizedGrant `json:"urn:ietf:params:oauth:grant-type:pre-authorized_code,omitempty"`
	// AuthorizationCode is kept only to tell the caller the offer has one;
	// this client does not run the authorization code flow.
	AuthorizationCode json.RawMessage `json:"authorization_code,omitempty"`
}

// PreAuthorizedGrant is the pre-authorized code grant of an offer.
type PreAuthorizedGrant struct {
	Code                string  `json:"pre-authorized_code"`
	TxCode              *TxCode `json:"tx_code,omitempty"`
	AuthorizationServer string  `json:"authorization_server,omitempty"`
}

// String redacts the code.
func (g PreAuthorizedGrant) String() string {
	return fmt.Sprintf("PreAuthorizedGrant(code=redacted, tx_code=%t)", g.TxCode != nil)
}

// GoString is String.
func (g PreAuthorizedGrant) GoString() string { return g.String() }

// Format writes String for every verb.
func (g PreAuthorizedGrant) Format(f fmt.State, _ rune) { io.WriteString(f, g.String()) }

// LogValue makes slog log String.
func (g PreAuthorizedGrant) LogValue() slog.Value { return slog.StringValue(g.String()) }

// TxCode describes the transaction code the issuer sent the holder by
// another channel.
type TxCode struct {
	InputMode   string `json:"input_mode,omitempty"` // "numeric" (default) or "text"
	Length      int    `json:"length,omitempty"`
	Description string `json:"description,omitempty"`
}

// ParseOfferLink parses a credential offer link: the openid-credential-offer
// scheme, or an https link carrying the same parameters. Its query must hold
// exactly one of credential_offer (the offer JSON, which is parsed and
// checked as ParseCredentialOffer does) and credential_offer_uri (an
// absolute http(s) URL, not fetched here), each once.
func ParseOfferLink(s string) (*OfferLink, error) {
	if len(s) > MaxOfferLink {
		return nil, malformed("offer link exceeds %d bytes", MaxOfferLink)
	}
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return nil, malformed("offer link is not a URI")
	}
	switch strings.ToLower(u.Scheme) {
	case OfferScheme, "https":
	default:
		return nil, malformed("offer link must use the %s:// scheme", OfferScheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, malformed("offer link query is malformed")
	}
	byValue, byRef := q["credential_offer"], q["credential_offer_uri"]
	switch {
	case len(byValue) > 1 || len(byRef) > 1:
		return nil, malformed("credential_offer and credential_offer_uri may appear once")
	case len(byValue) == 1 && len(byRef) == 1:
		return nil, malformed("the link has both credential_offer and credential_offer_uri")
	case len(byValue) == 1:
		o, err := ParseCredentialOffer([]byte(byValue[0]))
		if err != nil {
			return nil, err
		}
		return &OfferLink{Offer: o}, nil
	case len(byRef) == 1:
		ref, err := url.Parse(byRef[0])
		if err != nil || !ref.IsAbs() || ref.Host == "" || (ref.Scheme != "https" && ref.Scheme != "http") ||
			ref.User != nil || ref.Fragment != "" {
			return nil, malformed("credential_offer_uri must be an absolute https URL without user info or fragment")
		}
		return &OfferLink{URI: ref.String()}, nil
	}
	return nil, malformed("the link has neither credential_offer nor credential_offer_uri")
}

// ParseCredentialOffer parses and checks a credential offer object: one
// JSON object of at most MaxOffer bytes, without duplicate members, with a
// credential_issuer that is an absolute http(s) URL without query or
// fragment, at least one credential_configuration_id (distinct, non-empty)
// and, if the pre-authorized grant is present, a non-empty code and a
// sensible tx_code description. Unknown members are ignored, as the
// specification asks.
func ParseCredentialOffer(b []byte) (*CredentialOffer, error) {
	if len(b) > MaxOffer {
		return nil, malformed("credential offer exceeds %d bytes", MaxOffer)
	}
	if err := checkNoDuplicates(b); err != nil {
		return nil, malformed("credential offer: %v", err)
	}
	var o CredentialOffer
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, malformed("credential offer is not a valid JSON object")
	}
	if err := CheckIssuerID(o.CredentialIssuer); err != nil {
		return nil, malformed("credential_issuer: %v", err)
	}
	if len(o.ConfigurationIDs) == 0 {
		return nil, malformed("credential_configuration_ids must not be empty")
	}
	if len(o.ConfigurationIDs) > 64 {
		return nil, malformed("too many credential_configuration_ids")
	}
	seen := map[string]bool{}
	for _, id := range o.ConfigurationIDs {
		if id == "" || seen[id] {
			return nil, malformed("credential_configuration_ids must be distinct and non-empty")
		}
		seen[id] = true
	}
	if g := o.Grants.PreAuthorized; g != nil {
		if g.Code == "" {
			return nil, malformed("the pre-authorized grant has no pre-authorized_code")
		}
		if tx := g.TxCode; tx != nil {
			if tx.InputMode != "" && tx.InputMode != "numeric" && tx.InputMode != "text" {
				return nil, malformed("tx_code.input_mode must be numeric or text")
			}
			if tx.Length < 0 || tx.Length > 256 {
				return nil, malformed("tx_code.length is out of range")
			}
			if len(tx.Description) > 300 {
				return nil, malformed("tx_code.description exceeds 300 characters")
			}
		}
		if g.AuthorizationServer != "" {
			if err := CheckIssuerID(g.AuthorizationServer); err != nil {
				return nil, malformed("authorization_server: %v", err)
			}
		}
	}
	return &o, nil
}

// CheckIssuerID checks an issuer identifier: an absolute http(s) URL with
// a host, and no user info, query or fragment. Whether plain http is
// acceptable is the Client's decision when it fetches.
func CheckIssuerID(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("must be an https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("must not have user info, a query or a fragment")
	}
	return nil
}

// checkNoDuplicates refuses JSON with an object member repeated at any
// depth, and anything after the first value: parsers resolve duplicates
// differently, which lets one party see another offer than the next.
func checkNoDuplicates(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := walkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

const maxJSONDepth = 32

func walkValue(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return errors.New("malformed JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return errors.New("malformed JSON")
			}
			name, ok := t.(string)
			if !ok {
				return errors.New("malformed JSON")
			}
			if seen[name] {
				return fmt.Errorf("duplicate member %q", name)
			}
			seen[name] = true
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New("malformed JSON")
	}
	return nil
}
