package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/medid/medid/internal/kv"
)

// SupportedClaims are the claims a client may register for: the ones the
// patient-identity presentation asks the wallet for, under their OpenID
// Connect names.
var SupportedClaims = []string{"given_name", "family_name", "birthdate"}

// scopeClaims maps a scope to the claims it requests (OpenID Connect Core
// section 5.4).
var scopeClaims = map[string][]string{ScopeProfile: {"given_name", "family_name", "birthdate"}}

// Limits on a client registration.
const (
	maxClientName   = 200
	maxRedirectURIs = 10
)

// ClientRequest is the body of POST /oidc/clients.
type ClientRequest struct {
	ClientName   string   `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
	// AllowedClaims are the claims the client may receive, a subset of
	// SupportedClaims.
	AllowedClaims []string `json:"allowed_claims"`
	// TokenEndpointAuthMethod is client_secret_basic (the default),
	// client_secret_post, or none for a public client (PKCE only).
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
}

// Client is a registered client platform.
type Client struct {
	ID                      string    `json:"client_id"`
	Name                    string    `json:"client_name"`
	RedirectURIs            []string  `json:"redirect_uris"`
	AllowedClaims           []string  `json:"allowed_claims"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	CreatedAt               time.Time `json:"created_at"`
}

// Sector is the client's sector identifier for pairwise subjects: the
// host of its redirect URIs (all of which share it).
func (c *Client) Sector() string { return sectorOf(c.RedirectURIs[0]) }

// RegisteredClient is the 201 body of POST /oidc/clients: the client and,
// for a confidential client, its secret, shown this once.
type RegisteredClient struct {
	Client
	ClientSecret string `json:"client_secret,omitempty"`
}

// clientRecord is a client as stored: the secret only as its SHA-256 (it
// is 256 random bits, so a fast hash suffices).
type clientRecord struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	RedirectURIs  []string  `json:"redirect_uris"`
	AllowedClaims []string  `json:"claims"`
	AuthMethod    string    `json:"auth"`
	SecretHash    []byte    `json:"secret_sha256,omitempty"`
	Created       time.Time `json:"created"`
}

func (r *clientRecord) client() *Client {
	return &Client{ID: r.ID, Name: r.Name, RedirectURIs: slices.Clone(r.RedirectURIs),
		AllowedClaims: slices.Clone(r.AllowedClaims), TokenEndpointAuthMethod: r.AuthMethod, CreatedAt: r.Created}
}

// checkSecret compares secret with the stored hash in constant time.
func (r *clientRecord) checkSecret(secret string) bool {
	h := sha256.Sum256([]byte(secret))
	return len(r.SecretHash) == sha256.Size && subtle.ConstantTimeCompare(h[:], r.SecretHash) == 1
}

const clientPrefix = "oidc/client/"

// RegisterClient validates req and stores a new client. Validation errors
// are *FieldError.
func (p *Provider) RegisterClient(ctx context.Context, req ClientRequest) (*RegisteredClient, error) {
	rec, err := checkClientRequest(req)
	if err != nil {
		return nil, err
	}
	rec.ID = randomToken(16)
	rec.Created = p.opt.Now().UTC()
	var secret string
	if rec.AuthMethod != AuthNone {
		secret = randomToken(32)
		h := sha256.Sum256([]byte(secret))
		rec.SecretHash = h[:]
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := p.store.CompareAndSwap(ctx, clientPrefix+rec.ID, nil, b, 0); err != nil {
		return nil, fmt.Errorf("oidc: store client: %w", err)
	}
	p.opt.Logger.InfoContext(ctx, "oidc client registered", "client_id", rec.ID, "auth_method", rec.AuthMethod)
	return &RegisteredClient{Client: *rec.client(), ClientSecret: secret}, nil
}

// Client returns the registered client id, or ErrClientNotFound.
func (p *Provider) Client(ctx context.Context, id string) (*Client, error) {
	rec, err := p.clientRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return rec.client(), nil
}

// DeleteClient removes client id. Its codes and access tokens stop
// working: the token endpoint authenticates the client and userinfo
// checks that it still exists.
func (p *Provider) DeleteClient(ctx context.Context, id string) error {
	if _, err := p.clientRecord(ctx, id); err != nil {
		return err
	}
	if err := p.store.Delete(ctx, clientPrefix+id); err != nil {
		return err
	}
	p.opt.Logger.InfoContext(ctx, "oidc client deleted", "client_id", id)
	return nil
}

func (p *Provider) clientRecord(ctx context.Context, id string) (*clientRecord, error) {
	if id == "" || len(id) > 64 || !unreserved(id) {
		return nil, ErrClientNotFound
	}
	b, err := p.store.Get(ctx, clientPrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec clientRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("oidc: decode client: %w", err)
	}
	if len(rec.RedirectURIs) == 0 {
		return nil, errors.New("oidc: stored client has no redirect URI")
	}
	return &rec, nil
}

// checkClientRequest validates a registration and returns the record to
// store (without id, secret and time).
func checkClientRequest(req ClientRequest) (*clientRecord, error) {
	name := strings.TrimSpace(req.ClientName)
	switch {
	case name == "":
		return nil, &FieldError{"client_name", "required"}
	case len(name) > maxClientName:
		return nil, &FieldError{"client_name", fmt.Sprintf("at most %d bytes", maxClientName)}
	case strings.ContainsFunc(name, unicode.IsControl):
		return nil, &FieldError{"client_name", "control characters are not allowed"}
	}
	if len(req.RedirectURIs) == 0 || len(req.RedirectURIs) > maxRedirectURIs {
		return nil, &FieldError{"redirect_uris", fmt.Sprintf("give 1 to %d redirect URIs", maxRedirectURIs)}
	}
	rec := &clientRecord{Name: name}
	for i, ru := range req.RedirectURIs {
		field := fmt.Sprintf("redirect_uris[%d]", i)
		if err := checkRedirectURI(ru); err != nil {
			return nil, &FieldError{field, err.Error()}
		}
		if i > 0 && sectorOf(ru) != sectorOf(req.RedirectURIs[0]) {
			return nil, &FieldError{field, "every redirect URI must have the same host (the client's sector for pairwise subjects); register another client for another host"}
		}
		if !slices.Contains(rec.RedirectURIs, ru) {
			rec.RedirectURIs = append(rec.RedirectURIs, ru)
		}
	}
	rec.AllowedClaims = []string{}
	for i, c := range req.AllowedClaims {
		if !slices.Contains(SupportedClaims, c) {
			return nil, &FieldError{fmt.Sprintf("allowed_claims[%d]", i), fmt.Sprintf("unsupported claim %q (supported: %s)", truncate(c, 40), strings.Join(SupportedClaims, ", "))}
		}
		if !slices.Contains(rec.AllowedClaims, c) {
			rec.AllowedClaims = append(rec.AllowedClaims, c)
		}
	}
	switch req.TokenEndpointAuthMethod {
	case "", AuthSecretBasic:
		rec.AuthMethod = AuthSecretBasic
	case AuthSecretPost, AuthNone:
		rec.AuthMethod = req.TokenEndpointAuthMethod
	default:
		return nil, &FieldError{"token_endpoint_auth_method", "client_secret_basic, client_secret_post or none"}
	}
	return rec, nil
}

// checkRedirectURI: an absolute https URL (http only on a loopback host,
// RFC 8252), without fragment or user info.
func checkRedirectURI(s string) error {
	if len(s) > maxRedirectURILen || !printable(s) || strings.Contains(s, " ") {
		return fmt.Errorf("must be a URL of at most %d characters", maxRedirectURILen)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute URL")
	}
	switch {
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not have a fragment")
	case u.User != nil:
		return errors.New("must not carry user info")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return errors.New("must use https (http only for a loopback host)")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sectorOf is the lowercased host name (without port) of a redirect URI.
func sectorOf(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
