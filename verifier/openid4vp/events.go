package openid4vp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// broker tells this instance's event streams that a session changed.
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan struct{}]struct{}{}} }

func (b *broker) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[id] == nil {
		b.subs[id] = map[chan struct{}]struct{}{}
	}
	b.subs[id][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[id], ch)
		if len(b.subs[id]) == 0 {
			delete(b.subs, id)
		}
		b.mu.Unlock()
	}
}

func (b *broker) publish(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// heartbeat keeps idle event streams open through proxies.
const heartbeat = 15 * time.Second

// StreamStatus writes session id's status as server-sent events to w: one
// "status" event once the session is no longer pending (at once if it
// already is not), then it returns. It also ends when ctx ends. Comments
// are sent as heartbeats. Changes made by another instance are seen by
// re-reading the store every PollInterval.
func (s *Service) StreamStatus(ctx context.Context, id string, w http.ResponseWriter) error {
	ch, cancel := s.events.subscribe(id)
	defer cancel()
	st, err := s.Status(ctx, id)
	if err != nil {
		return err
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	send := func(st *Status) error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "event: status\ndata: %s\n\n", b)
		flush()
		return err
	}
	if st.Status != StatusPending {
		return send(st)
	}
	if _, err := fmt.Fprint(w, ": waiting\n\n"); err != nil {
		return err
	}
	flush()
	poll := time.NewTicker(s.opt.PollInterval)
	defer poll.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			flush()
			continue
		case <-ch:
		case <-poll.C:
		}
		st, err := s.Status(ctx, id)
		if errors.Is(err, ErrSessionNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Status != StatusPending {
			return send(st)
		}
	}
}

// Webhook signature header: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" under Options.WebhookSecret>".
const WebhookSignatureHeader = "Medid-Signature"

// SignWebhook returns the Medid-Signature value for body sent at t.
func SignWebhook(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Service) checkWebhookURL(raw string) error {
	if len(raw) > 2048 {
		return errors.New("at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("an absolute URL without credentials or fragment is required")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && s.opt.AllowInsecureWebhooks) {
		return errors.New("an https URL is required")
	}
	return nil
}

// sendWebhook POSTs st to target in the background: up to three attempts,
// until a 2xx answer.
func (s *Service) sendWebhook(target string, st *Status) {
	body, err := json.Marshal(st)
	if err != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := context.Background()
		for attempt := range 3 {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * time.Second)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			if len(s.opt.WebhookSecret) > 0 {
				req.Header.Set(WebhookSignatureHeader, SignWebhook(s.opt.WebhookSecret, body, s.opt.Now()))
			}
			resp, err := s.opt.HTTPClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					return
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			s.opt.Logger.WarnContext(ctx, "webhook delivery failed", "session", st.ID, "attempt", attempt+1, "error", err)
		}
	}()
}
