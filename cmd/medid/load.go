package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// loadResult is one load run's figures.
type loadResult struct {
	Target    string        `json:"target"`
	Requests  int64         `json:"requests"`
	Errors    int64         `json:"errors"`
	PerSecond float64       `json:"perSecond"`
	P50       time.Duration `json:"p50"`
	P90       time.Duration `json:"p90"`
	P99       time.Duration `json:"p99"`
}

func (r loadResult) String() string {
	return fmt.Sprintf("%-10s %8d req  %8.0f req/s  p50 %-9v p90 %-9v p99 %-9v errors %d",
		r.Target, r.Requests, r.PerSecond, r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors)
}

// cmdLoad drives HTTP load at a loopback URL for a bounded time. With
// --baseline it first measures a trivial echo handler in this process under
// the same load, so the result can be read as a ratio on a noisy machine.
func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "URL to load (loopback hosts only)")
	method := fs.String("method", http.MethodGet, "HTTP method")
	bodyFile := fs.String("body", "", "file whose content is sent as the request body")
	var headers headerFlags
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	conc := fs.Int("c", 32, "concurrent connections")
	dur := fs.Duration("d", 10*time.Second, "duration (at most 5m)")
	baseline := fs.Bool("baseline", false, "measure a trivial in-process echo handler first and report the ratio")
	asJSON := fs.Bool("json", false, "print results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return usageError("load: --url is required")
	}
	if *dur <= 0 || *dur > 5*time.Minute || *conc < 1 || *conc > 1024 {
		return usageError("load: -d must be in (0, 5m] and -c in [1, 1024]")
	}
	u, err := url.Parse(*target)
	if err != nil || !isLoopback(u.Hostname()) {
		return usageError("load: --url must be an http(s) URL on a loopback host")
	}
	var body []byte
	if *bodyFile != "" {
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return err
		}
	}
	var results []loadResult
	if *baseline {
		b, err := runBaseline(ctx, *conc, *dur)
		if err != nil {
			return err
		}
		results = append(results, b)
	}
	r, err := drive(ctx, "target", *method, *target, body, headers, *conc, *dur)
	if err != nil {
		return err
	}
	results = append(results, r)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r)
	}
	if *baseline {
		fmt.Fprintf(stdout, "ratio target/baseline: %.3f\n", results[1].PerSecond/results[0].PerSecond)
	}
	return nil
}

func runBaseline(ctx context.Context, conc int, d time.Duration) (loadResult, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/echo", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, err
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(l)
	defer srv.Close()
	return drive(ctx, "baseline", http.MethodGet, "http://"+l.Addr().String()+"/echo", nil, nil, conc, d)
}

func drive(ctx context.Context, name, method, target string, body []byte, headers headerFlags, conc int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		wg        sync.WaitGroup
		firstErr  atomic.Value
	)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				for _, h := range headers {
					k, v, _ := strings.Cut(h, ":")
					req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 400 {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e, ok := firstErr.Load().(error); ok && e != nil {
		return loadResult{}, e
	}
	if len(latencies) == 0 {
		return loadResult{}, errors.New("load: no request completed")
	}
	slices.Sort(latencies)
	q := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	return loadResult{Target: name, Requests: int64(len(latencies)), Errors: errs.Load(),
		PerSecond: float64(len(latencies)) / elapsed.Seconds(), P50: q(.50), P90: q(.90), P99: q(.99)}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error {
	if !strings.Contains(v, ":") {
		return fmt.Errorf("header %q: want 'Name: value'", v)
	}
	*h = append(*h, v)
	return nil
}
