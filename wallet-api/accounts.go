package walletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medid/medid/internal/kv"
)

// Store keys. Everything an account holds lives under acctPrefix+id+"/",
// sealed under its data key.
const (
	userPrefix    = "wallet/user/"   // username → account id
	accountPrefix = "wallet/acct/"   // account id → accountRecord (JSON)
	sessionPrefix = "wallet/sess/"   // hash(token) → sessionRecord, with TTL
	signInPrefix  = "wallet/signin/" // hash(username) → failure counter, with TTL
	dataPrefix    = "wallet/a/"      // + account id + "/" + kind + "/" + id
)

// Account is a signed-in wallet account. Only Authenticate and the
// account-creating methods make one, so holding an Account means the
// caller proved it is this account.
type Account struct {
	ID       string
	Username string
	rec      *accountRecord
}

// accountRecord is an account at rest.
type accountRecord struct {
	V        int          `json:"v"`
	ID       string       `json:"id"`
	Username string       `json:"username"`
	Password passwordHash `json:"password"`
	// DataKey is the account's data key sealed under the master key.
	DataKey []byte `json:"data_key"`
	// Generation is bumped by signing out everywhere: sessions of an
	// earlier generation are refused.
	Generation uint64    `json:"generation"`
	Created    time.Time `json:"created"`
}

// sessionRecord is a session at rest, under the hash of its token.
type sessionRecord struct {
	Account    string    `json:"account"`
	Generation uint64    `json:"generation"`
	Expires    time.Time `json:"expires"`
}

// Session is a new session: the bearer token (a secret, shown once) and
// its expiry.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Credentials are a username and password.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// normalizeUsername checks and lower-cases a username: 3 to 64 characters
// of a-z, 0-9, '.', '_', '-', starting with a letter or digit.
func normalizeUsername(u string) (string, error) {
	u = strings.ToLower(strings.TrimSpace(u))
	if len(u) < 3 || len(u) > 64 {
		return "", fieldErr("username", "must be 3 to 64 characters")
	}
	for i, c := range u {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '.' || c == '_' || c == '-'))
		if !ok {
			return "", fieldErr("username", "may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit")
		}
	}
	return u, nil
}

func checkPassword(field, p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return fieldErr(field, "must be valid UTF-8")
	case n < 10:
		return fieldErr(field, "must be at least 10 characters")
	case len(p) > 1024:
		return fieldErr(field, "must be at most 1024 bytes")
	}
	return nil
}

// CreateAccount registers an account with a fresh data key and a default
// P-256 holder key. A taken username gives ErrUsernameTaken.
func (s *Service) CreateAccount(ctx context.Context, c Credentials) (*Account, error) {
	acct, err := s.newAccount(ctx, c)
	if err != nil {
		return nil, err
	}
	if _, err := s.CreateKey(ctx, *acct, "ES256"); err != nil {
		s.deleteAccount(ctx, acct)
		return nil, err
	}
	return acct, nil
}

// newAccount creates the account record and claims the username. The
// record is written first, so a username never points at nothing.
func (s *Service) newAccount(ctx context.Context, c Credentials) (*Account, error) {
	username, err := normalizeUsername(c.Username)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("password", c.Password); err != nil {
		return nil, err
	}
	if _, err := s.store.Get(ctx, userPrefix+username); err == nil {
		return nil, ErrUsernameTaken
	} else if !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	id := randomID(16)
	dk, err := newDataKey(s.sealer, id)
	if err != nil {
		return nil, err
	}
	rec := &accountRecord{V: 1, ID: id, Username: username, DataKey: dk, Created: s.now().UTC()}
	if err := s.withSlot(ctx, func() { rec.Password = hashPassword(c.Password, s.opt.PasswordParams) }); err != nil {
		return nil, err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, accountPrefix+id, nil, b, 0); err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, userPrefix+username, nil, []byte(id), 0); err != nil {
		_ = s.store.Delete(ctx, accountPrefix+id)
		if errors.Is(err, kv.ErrConflict) {
			return nil, ErrUsernameTaken
		}
		return nil, err
	}
	return &Account{ID: id, Username: username, rec: rec}, nil
}

// deleteAccount removes an account and everything it holds (best effort;
// used to undo a creation or import that failed half-way).
func (s *Service) deleteAccount(ctx context.Context, a *Account) {
	var ks []string
	_ = s.store.List(ctx, dataPrefix+a.ID+"/", func(k string, _ []byte) error {
		ks = append(ks, k)
		return nil
	})
	for _, k := range ks {
		_ = s.store.Delete(ctx, k)
	}
	_ = s.store.Delete(ctx, userPrefix+a.Username)
	_ = s.store.Delete(ctx, accountPrefix+a.ID)
}

// signInFailures is the per-username failure counter.
type signInFailures struct {
	N     int       `json:"n"`
	First time.Time `json:"first"`
}

// SignIn checks the password and opens a session. Wrong credentials give
// ErrBadCredentials, whether the username exists or not (the same argon2id
// work is done either way); too many failures for one username within the
// window give a *RateLimitedError until the window ends.
func (s *Service) SignIn(ctx context.Context, c Credentials) (*Session, error) {
	username, uerr := normalizeUsername(c.Username)
	if uerr != nil || len(c.Password) > 1024 {
		return nil, ErrBadCredentials
	}
	limitKey := signInPrefix + hashSecret("signin", username)
	now := s.now()
	if raw, err := s.store.Get(ctx, limitKey); err == nil {
		var f signInFailures
		if json.Unmarshal(raw, &f) == nil && f.N >= s.opt.SignInFailures {
			if wait := f.First.Add(s.opt.SignInWindow).Sub(now); wait > 0 {
				return nil, &RateLimitedError{Reason: "too many failed sign-ins for this username; retry later", RetryAfter: int(wait.Seconds()) + 1}
			}
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	rec, err := s.accountByUsername(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ok := false
	hash := passwordHash{Alg: "argon2id", V: 19, Params: s.opt.PasswordParams, Salt: make([]byte, 16), Hash: make([]byte, 32)}
	if rec != nil {
		hash = rec.Password
	}
	if err := s.withSlot(ctx, func() { ok = hash.verify(c.Password) }); err != nil {
		return nil, err
	}
	if !ok || rec == nil {
		s.countFailure(ctx, limitKey, now)
		return nil, ErrBadCredentials
	}
	_ = s.store.Delete(ctx, limitKey)
	tok := randomID(32)
	exp := now.Add(s.opt.SessionTTL).UTC().Truncate(time.Second)
	b, err := json.Marshal(sessionRecord{Account: rec.ID, Generation: rec.Generation, Expires: exp})
	if err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, sessionPrefix+hashSecret("session", tok), b, s.opt.SessionTTL); err != nil {
		return nil, err
	}
	return &Session{Token: tok, ExpiresAt: exp}, nil
}

// countFailure adds one failure to the username's counter (compare-and-
// swap, so concurrent failures all count).
func (s *Service) countFailure(ctx context.Context, key string, now time.Time) {
	for range 8 {
		old, err := s.store.Get(ctx, key)
		f := signInFailures{First: now}
		switch {
		case err == nil:
			if json.Unmarshal(old, &f) != nil || now.Sub(f.First) >= s.opt.SignInWindow {
				f = signInFailures{First: now}
			}
		case errors.Is(err, kv.ErrNotFound):
			old = nil
		default:
			return
		}
		f.N++
		b, _ := json.Marshal(f)
		ttl := f.First.Add(s.opt.SignInWindow).Sub(now)
		if ttl <= 0 {
			ttl = s.opt.SignInWindow
		}
		if err := s.store.CompareAndSwap(ctx, key, old, b, ttl); !errors.Is(err, kv.ErrConflict) {
			return
		}
	}
}

func (s *Service) accountByUsername(ctx context.Context, username string) (*accountRecord, error) {
	id, err := s.store.Get(ctx, userPrefix+username)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rec, _, err := s.accountRecord(ctx, string(id))
	return rec, err
}

func (s *Service) accountRecord(ctx context.Context, id string) (*accountRecord, []byte, error) {
	raw, err := s.store.Get(ctx, accountPrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	var rec accountRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, nil, fmt.Errorf("walletapi: account %s: %w", id, err)
	}
	return &rec, raw, nil
}

// Authenticate returns the account of a session token. A missing, unknown,
// expired or signed-out token gives ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (*Account, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrUnauthenticated
	}
	raw, err := s.store.Get(ctx, sessionPrefix+hashSecret("session", token))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	var sess sessionRecord
	if err := json.Unmarshal(raw, &sess); err != nil {
		return nil, ErrUnauthenticated
	}
	if !s.now().Before(sess.Expires) {
		return nil, ErrUnauthenticated
	}
	rec, _, err := s.accountRecord(ctx, sess.Account)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if rec.Generation != sess.Generation {
		return nil, ErrUnauthenticated
	}
	return &Account{ID: rec.ID, Username: rec.Username, rec: rec}, nil
}

// SignOutEverywhere ends every session of the account: it bumps the
// account's session generation (compare-and-swap) and deletes token's own
// session record.
func (s *Service) SignOutEverywhere(ctx context.Context, a Account, token string) error {
	for range 8 {
		rec, raw, err := s.accountRecord(ctx, a.ID)
		if err != nil {
			return err
		}
		rec.Generation++
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		err = s.store.CompareAndSwap(ctx, accountPrefix+a.ID, raw, b, 0)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if token != "" {
			_ = s.store.Delete(ctx, sessionPrefix+hashSecret("session", token))
		}
		return nil
	}
	return errors.New("walletapi: sign-out: the account kept changing")
}

// vault returns the account's record vault.
func (s *Service) vault(a Account) (*vault, error) {
	if a.rec == nil {
		return nil, ErrUnauthenticated
	}
	return openVault(s.sealer, a.ID, a.rec.DataKey)
}

// dataKey is the store key of one of the account's records.
func dataKey(acct, kind, id string) string { return dataPrefix + acct + "/" + kind + "/" + id }
