package vciclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Response size limits.
const (
	maxMetadata = 1 << 20
	maxResponse = 4 << 20
)

// Client talks to credential issuers. The zero value is not usable: set
// HTTP. It is safe for concurrent use.
type Client struct {
	// HTTP is the client used for every request; its Timeout (or the
	// caller's context) bounds each exchange.
	HTTP *http.Client
	// AllowHTTPLoopback permits plain http, to loopback hosts only (a
	// local issuer, tests). Everything else must be https.
	AllowHTTPLoopback bool
}

// ErrInsecureURL is wrapped when an endpoint is not https (or loopback
// http when allowed).
var ErrInsecureURL = errors.New("vciclient: refusing a non-https URL")

// ErrUnreachable is wrapped when the issuer could not be reached or
// answered something that is not a protocol response.
var ErrUnreachable = errors.New("vciclient: issuer unreachable or not answering the protocol")

// Error is an OAuth / OpenID4VCI error response from an issuer endpoint.
type Error struct {
	Endpoint    string // "token", "nonce", "credential", …
	Status      int
	Code        string // e.g. invalid_grant; "" if the body had none
	Description string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("vciclient: %s endpoint answered %d", e.Endpoint, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// CheckURL parses raw and checks that the client may call it.
func (c *Client) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrInsecureURL, raw)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if c.AllowHTTPLoopback && isLoopback(u.Hostname()) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrInsecureURL, u.Redacted())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient is c.HTTP refusing redirects to URLs CheckURL refuses.
func (c *Client) httpClient() *http.Client {
	hc := *c.HTTP
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if _, err := c.CheckURL(req.URL.String()); err != nil {
			return err
		}
		if len(via) >= 5 {
			return errors.New("vciclient: too many redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &hc
}

// do sends req and reads at most limit bytes of a 2xx JSON answer. A
// non-2xx answer becomes an *Error (OAuth error members parsed when the
// body is JSON).
func (c *Client) do(req *http.Request, endpoint string, limit int64) ([]byte, error) {
	if _, err := c.CheckURL(req.URL.String()); err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, ErrInsecureURL) {
			return nil, ue.Err
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, endpoint, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading the answer: %v", ErrUnreachable, endpoint, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: %s: answer exceeds %d bytes", ErrUnreachable, endpoint, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Endpoint: endpoint, Status: resp.StatusCode}
		var oe struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oe) == nil {
			e.Code = truncate(oe.Code, 100)
			e.Description = truncate(oe.Description, 300)
		}
		return nil, e
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, fmt.Errorf("%w: %s: answer is %q, not JSON", ErrUnreachable, endpoint, mt)
	}
	return body, nil
}

// redactURLError keeps only the cause of a *url.Error: its URL may carry
// a query the logs should not see.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (c *Client) get(ctx context.Context, u, endpoint string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s URL", ErrInsecureURL, endpoint)
	}
	return c.do(req, endpoint, limit)
}

// FetchOffer fetches a credential offer by reference (credential_offer_uri).
func (c *Client) FetchOffer(ctx context.Context, uri string) (*CredentialOffer, error) {
	b, err := c.get(ctx, uri, "credential_offer_uri", MaxOffer)
	if err != nil {
		return nil, err
	}
	return ParseCredentialOffer(b)
}

// ResolveOffer returns the offer a link carries, fetching it when it is
// by reference.
func (c *Client) ResolveOffer(ctx context.Context, l *OfferLink) (*CredentialOffer, error) {
	if l.Offer != nil {
		return l.Offer, nil
	}
	return c.FetchOffer(ctx, l.URI)
}

// IssuerMetadata fetches the credential issuer metadata of issuer and
// checks that it names the same issuer and has a credential endpoint.
func (c *Client) IssuerMetadata(ctx context.Context, issuer string) (*IssuerMetadata, error) {
	u, err := WellKnownURL(issuer, "openid-credential-issuer")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	b, err := c.get(ctx, u, "issuer metadata", maxMetadata)
	if err != nil {
		return nil, err
	}
	m, err := parseIssuerMetadata(b, issuer)
	if err != nil {
		return nil, err
	}
	for _, e := range []string{m.CredentialEndpoint, m.NonceEndpoint} {
		if e == "" {
			continue
		}
		if _, err := c.CheckURL(e); err != nil {
			return nil, fmt.Errorf("%w: endpoint: %v", ErrMetadata, err)
		}
	}
	return m, nil
}

// AuthorizationServer picks the authorization server for a pre-authorized
// grant: the grant's own when it names one (which must be listed in the
// metadata), else the only one listed, else the credential issuer itself.
func AuthorizationServer(m *IssuerMetadata, g *PreAuthorizedGrant) (string, error) {
	if g != nil && g.AuthorizationServer != "" {
		for _, as := range m.AuthorizationServers {
			if as == g.AuthorizationServer {
				return as, nil
			}
		}
		return "", fmt.Errorf("%w: the offer's authorization_server is not listed in the issuer metadata", ErrMetadata)
	}
	switch len(m.AuthorizationServers) {
	case 0:
		return m.CredentialIssuer, nil
	case 1:
		return m.AuthorizationServers[0], nil
	}
	return "", fmt.Errorf("%w: several authorization servers and the offer names none", ErrMetadata)
}

// AuthServerMetadata fetches RFC 8414 metadata of the authorization server
// as (falling back to the OpenID Connect discovery document).
func (c *Client) AuthServerMetadata(ctx context.Context, as string) (*AuthServerMetadata, error) {
	var firstErr error
	for _, suffix := range []string{"oauth-authorization-server", "openid-configuration"} {
		u, err := WellKnownURL(as, suffix)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
		}
		b, err := c.get(ctx, u, "authorization server metadata", maxMetadata)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Status == http.StatusNotFound && firstErr == nil {
				firstErr = err
				continue
			}
			return nil, err
		}
		m, err := parseAuthServerMetadata(b, as)
		if err != nil {
			return nil, err
		}
		if _, err := c.CheckURL(m.TokenEndpoint); err != nil {
			return nil, fmt.Errorf("%w: token_endpoint: %v", ErrMetadata, err)
		}
		return m, nil
	}
	return nil, firstErr
}

// Token is an access token response. The token is a secret: Token prints
// redacted.
type Token struct {
	AccessToken string
	TokenType   string
	ExpiresIn   int
	// CNonce is a c_nonce the token endpoint may still return (drafts).
	CNonce string
}

// String redacts the token.
func (t Token) String() string { return "vciclient.Token(" + t.TokenType + ", redacted)" }

// GoString is String.
func (t Token) GoString() string { return t.String() }

// Format writes String for every verb.
func (t Token) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue makes slog log String.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// RedeemPreAuthorized exchanges a pre-authorized code (and the transaction
// code, when the offer asked for one) for an access token at tokenEndpoint.
func (c *Client) RedeemPreAuthorized(ctx context.Context, tokenEndpoint, code, txCode string) (*Token, error) {
	form := url.Values{"grant_type": {GrantPreAuthorized}, "pre-authorized_code": {code}}
	if txCode != "" {
		form.Set("tx_code", txCode)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: token endpoint URL", ErrInsecureURL)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b, err := c.do(req, "token", maxMetadata)
	if err != nil {
		return nil, err
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		CNonce      string `json:"c_nonce"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("%w: token endpoint: no access_token in the answer", ErrUnreachable)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return nil, fmt.Errorf("%w: token endpoint: token_type %q is not supported (Bearer only)", ErrUnreachable, truncate(tr.TokenType, 20))
	}
	return &Token{AccessToken: tr.AccessToken, TokenType: "Bearer", ExpiresIn: tr.ExpiresIn, CNonce: tr.CNonce}, nil
}

// Nonce gets a fresh c_nonce from the nonce endpoint.
func (c *Client) Nonce(ctx context.Context, endpoint string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return "", fmt.Errorf("%w: nonce endpoint URL", ErrInsecureURL)
	}
	b, err := c.do(req, "nonce", 16<<10)
	if err != nil {
		return "", err
	}
	var nr struct {
		CNonce string `json:"c_nonce"`
	}
	if err := json.Unmarshal(b, &nr); err != nil || nr.CNonce == "" {
		return "", fmt.Errorf("%w: nonce endpoint: no c_nonce in the answer", ErrUnreachable)
	}
	return nr.CNonce, nil
}

// CredentialRequest asks for credentials of one configuration, one per
// key proof.
type CredentialRequest struct {
	ConfigurationID string  `json:"credential_configuration_id"`
	Proofs          *Proofs `json:"proofs,omitempty"`
}

// Proofs are the key proofs of a credential request.
type Proofs struct {
	JWT []string `json:"jwt"`
}

// CredentialResponse is the credential endpoint's answer. Credentials are
// the raw JSON values (a string for JWT-based formats).
type CredentialResponse struct {
	Credentials    []json.RawMessage
	NotificationID string
}

// ErrDeferred is returned when the issuer defers issuance, which this
// client does not support.
var ErrDeferred = errors.New("vciclient: the issuer deferred issuance (not supported)")

// Credential sends a credential request with the access token.
func (c *Client) Credential(ctx context.Context, endpoint string, tok *Token, creq CredentialRequest) (*CredentialResponse, error) {
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: credential endpoint URL", ErrInsecureURL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	b, err := c.do(req, "credential", maxResponse)
	if err != nil {
		return nil, err
	}
	var cr struct {
		Credentials []struct {
			Credential json.RawMessage `json:"credential"`
		} `json:"credentials"`
		TransactionID  string `json:"transaction_id"`
		NotificationID string `json:"notification_id"`
	}
	if err := json.Unmarshal(b, &cr); err != nil {
		return nil, fmt.Errorf("%w: credential endpoint: malformed answer", ErrUnreachable)
	}
	if len(cr.Credentials) == 0 {
		if cr.TransactionID != "" {
			return nil, ErrDeferred
		}
		return nil, fmt.Errorf("%w: credential endpoint: no credentials in the answer", ErrUnreachable)
	}
	out := &CredentialResponse{NotificationID: cr.NotificationID}
	for _, c := range cr.Credentials {
		if len(c.Credential) == 0 {
			return nil, fmt.Errorf("%w: credential endpoint: an empty credential", ErrUnreachable)
		}
		out.Credentials = append(out.Credentials, c.Credential)
	}
	return out, nil
}

// Notify tells the issuer what became of the credentials (OpenID4VCI 1.0
// §11): event is credential_accepted, credential_failure or
// credential_deleted. Failures are the caller's to ignore.
func (c *Client) Notify(ctx context.Context, endpoint string, tok *Token, notificationID, event string) error {
	body, _ := json.Marshal(map[string]string{"notification_id": notificationID, "event": event})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: notification endpoint URL", ErrInsecureURL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if _, err := c.CheckURL(endpoint); err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("%w: notification: %v", ErrUnreachable, redactURLError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode/100 != 2 {
		return &Error{Endpoint: "notification", Status: resp.StatusCode}
	}
	return nil
}
