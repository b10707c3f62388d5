// Package config parses medid's command-line flags and their environment
// twins into a typed, validated Config. It is the only place that reads the
// environment; everything else takes explicit parameters.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is the configuration of `medid serve`.
type Config struct {
	Addr                string // listen address
	DataDir             string // embedded store, ledger, generated secrets
	BaseURL             string // public URL used in identifiers, metadata and links
	RedisURL            string // shared state; empty = embedded bbolt
	TLSCert, TLSKey     string // serve HTTPS directly when both are set
	AllowInsecureDIDWeb bool   // did:web over plain HTTP for loopback hosts (tests)
	AdminToken          string // MEDID_ADMIN_TOKEN; empty = generated into DataDir
	WebhookSecret       string // MEDID_WEBHOOK_SECRET; empty = generated into DataDir
	MasterKey           string // MEDID_MASTER_KEY (base64 of 32 bytes); empty = DataDir/master.key
	LogLevel            string // debug, info, warn, error
	// IssuerDID names the DID credentials are issued under; empty = the
	// server's own did:medid.
	IssuerDID string
	// VerifierRedirectURI is the frontend a same-device OpenID4VP session
	// sends the wallet back to (with #response_code=…); empty disables
	// same-device sessions.
	VerifierRedirectURI string
	// VerifierX509Chain and VerifierX509Key (PEM files) enable the
	// x509_san_dns client_id prefix for OpenID4VP requests: the chain's leaf
	// must name the base URL's host as a dNSName.
	VerifierX509Chain, VerifierX509Key string
	// VerifierInfo is a JSON file of verifier_info attestations (OpenID4VP
	// 1.0 section 5.1) sent in every signed request object, for example an
	// OrganizationCredential an authority issued to the server's DID.
	VerifierInfo string
	// WalletOrigins are the origins (scheme://host[:port]) of web wallets
	// whose scripts may call the wallet API from a browser (CORS);
	// comma-separated on the command line. Validate normalizes them.
	// Empty: none, only same-origin pages and native apps.
	WalletOrigins []string
}

// Getenv looks up an environment variable (os.Getenv in production).
type Getenv func(string) string

// Bind registers the serve flags on fs with defaults taken from the
// environment twins, and returns the Config they fill.
func Bind(fs *flag.FlagSet, getenv Getenv) *Config {
	c := &Config{}
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("MEDID_ADDR", "127.0.0.1:8080"), "listen address (env MEDID_ADDR)")
	fs.StringVar(&c.DataDir, "data", env("MEDID_DATA_DIR", "./data"), "data directory (env MEDID_DATA_DIR)")
	fs.StringVar(&c.BaseURL, "base-url", env("MEDID_BASE_URL", ""), "public base URL (env MEDID_BASE_URL; default http(s)://<addr>)")
	fs.StringVar(&c.RedisURL, "redis", env("MEDID_REDIS_URL", ""), "Redis URL for shared state (env MEDID_REDIS_URL; unset = embedded bbolt)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("MEDID_TLS_CERT", ""), "TLS certificate file (env MEDID_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env("MEDID_TLS_KEY", ""), "TLS private key file (env MEDID_TLS_KEY)")
	insecure, _ := strconv.ParseBool(env("MEDID_ALLOW_INSECURE_DID_WEB", "false"))
	fs.BoolVar(&c.AllowInsecureDIDWeb, "allow-insecure-did-web", insecure, "resolve did:web over plain HTTP for loopback hosts, for tests (env MEDID_ALLOW_INSECURE_DID_WEB)")
	fs.StringVar(&c.IssuerDID, "issuer-did", env("MEDID_ISSUER_DID", ""), "DID to issue credentials under, one this server holds keys for, e.g. a did:web (env MEDID_ISSUER_DID; unset = the server's own did:medid)")
	fs.StringVar(&c.VerifierRedirectURI, "verifier-redirect-uri", env("MEDID_VERIFIER_REDIRECT_URI", ""), "where same-device OpenID4VP sessions send the wallet back, with #response_code=… (env MEDID_VERIFIER_REDIRECT_URI; unset = cross-device only)")
	fs.StringVar(&c.VerifierX509Chain, "verifier-x509-chain", env("MEDID_VERIFIER_X509_CHAIN", ""), "PEM certificate chain (leaf first) for x509_san_dns OpenID4VP requests (env MEDID_VERIFIER_X509_CHAIN)")
	fs.StringVar(&c.VerifierX509Key, "verifier-x509-key", env("MEDID_VERIFIER_X509_KEY", ""), "PEM private key of that chain's leaf (env MEDID_VERIFIER_X509_KEY)")
	fs.StringVar(&c.VerifierInfo, "verifier-info", env("MEDID_VERIFIER_INFO", ""), "JSON file of verifier_info attestations (an array of {format, data, credential_ids}) sent with every signed OpenID4VP request, e.g. an OrganizationCredential about this server's DID (env MEDID_VERIFIER_INFO)")
	fs.Func("wallet-origins", "comma-separated origins of web wallets allowed to call /wallet/* from a browser, e.g. https://wallet.example (env MEDID_WALLET_ORIGINS; unset = none)", func(v string) error {
		c.WalletOrigins = splitList(v)
		return nil
	})
	c.WalletOrigins = splitList(env("MEDID_WALLET_ORIGINS", ""))
	fs.StringVar(&c.LogLevel, "log-level", env("MEDID_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env MEDID_LOG_LEVEL)")
	c.AdminToken = getenv("MEDID_ADMIN_TOKEN")
	c.WebhookSecret = getenv("MEDID_WEBHOOK_SECRET")
	c.MasterKey = getenv("MEDID_MASTER_KEY")
	return c
}

// Validate checks the configuration and fills derived defaults (BaseURL).
func (c *Config) Validate() error {
	var errs []error
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %v", c.Addr, err))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: bad port", c.Addr))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must not be empty"))
	} else {
		c.DataDir = filepath.Clean(c.DataDir)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.BaseURL == "" && err == nil {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.BaseURL = scheme + "://" + net.JoinHostPort(host, port)
	}
	if c.BaseURL != "" {
		u, perr := url.Parse(c.BaseURL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("--base-url %q: must be an absolute http(s) URL without query or fragment", c.BaseURL))
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	}
	if c.RedisURL != "" {
		u, perr := url.Parse(c.RedisURL)
		if perr != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, fmt.Errorf("--redis: must be a redis:// or rediss:// URL"))
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("MEDID_ADMIN_TOKEN must be at least 16 characters"))
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 32 {
		errs = append(errs, errors.New("MEDID_WEBHOOK_SECRET must be at least 32 characters"))
	}
	if c.IssuerDID != "" && (!strings.HasPrefix(c.IssuerDID, "did:") || strings.ContainsAny(c.IssuerDID, "#?/ ")) {
		errs = append(errs, fmt.Errorf("--issuer-did %q: must be a DID (did:method:id, no path, query or fragment)", c.IssuerDID))
	}
	if c.VerifierRedirectURI != "" {
		u, perr := url.Parse(c.VerifierRedirectURI)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("--verifier-redirect-uri %q: must be an absolute http(s) URL without fragment", c.VerifierRedirectURI))
		}
	}
	if (c.VerifierX509Chain == "") != (c.VerifierX509Key == "") {
		errs = append(errs, errors.New("--verifier-x509-chain and --verifier-x509-key go together"))
	}
	for i, o := range c.WalletOrigins {
		n, err := Origin(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("--wallet-origins: %v", err))
			continue
		}
		c.WalletOrigins[i] = n
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// LedgerOrigin is the checkpoint origin line: the base URL's host and path
// followed by /ledger (tlog-checkpoint origins are schemeless).
func (c *Config) LedgerOrigin() string {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return "medid/ledger"
	}
	return u.Host + strings.TrimRight(u.Path, "/") + "/ledger"
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Origin returns o, a web origin, in the form browsers send in the Origin
// header (lower-case scheme and host, no default port), or an error when
// o is not one: an https origin, or http on a loopback host for local
// development, without path, query, fragment or user information.
func Origin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	loopback := host == "localhost" || net.ParseIP(host).IsLoopback()
	switch {
	case scheme == "https":
	case scheme == "http" && loopback:
	default:
		return "", fmt.Errorf("%q: must be https (http only on a loopback host)", o)
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}
