package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// Load shape of the HTTP benchmarks.
const (
	// benchClients is the number of concurrent clients of the closed-loop
	// benchmarks.
	benchClients = 32
	// benchRate is the rate of the open-loop benchmarks, per second, and
	// benchMaxClients the most requests they have in flight.
	benchRate       = 2000
	benchMaxClients = 128
	// benchChallenge and benchDomain are the presentation's binding
	// (options.challenge and options.domain: the Key Binding JWT's nonce
	// and aud).
	benchChallenge = "bench-challenge-0001"
	benchDomain    = "https://clinic.example"
	// benchRefresh is how often the presentation is rebuilt, so that its
	// Key Binding JWT's iat stays within the verifier's 5 minutes.
	benchRefresh = time.Minute
)

// BenchmarkHTTPPresentationsVerify measures POST /presentations/verify of
// an SD-JWT VC PatientIdentityCredential (issued by the same server over
// OpenID4VCI) with a Key Binding JWT, through the real server over
// loopback HTTP from benchClients concurrent keep-alive clients, each
// sending its next request when the last is answered (closed loop): b.N
// requests in all. In the same run it drives a trivial echo handler on
// another loopback listener the same way, as the baseline.
//
// Metrics: verify_req/s, verify_p50_ms, verify_p99_ms, the same for
// echo_, verify/echo (the throughput ratio), and the server's usage per
// verification (server_cpu_us/op, server_cores, server_written_KB/op: see
// reportUsage). This is the server's throughput at saturation;
// BenchmarkHTTPPresentationsVerifyAtRate measures the latency at the
// issue's rate.
//
// Every verification goes through the whole request path, including the
// access log entry that the VC-API handlers record (stored before the
// answer; its ledger commitment follows in the background).
func BenchmarkHTTPPresentationsVerify(b *testing.B) {
	verify, echo := presentationsVerifyLoad(b)
	v := measured(b, verify, func() loadResult { return drive(verify, b.N, benchClients) })
	e := drive(echo, b.N, benchClients)
	if e.err != nil {
		b.Fatal(e.err)
	}
	v.report(b, "verify", false)
	e.report(b, "echo", false)
	b.ReportMetric(v.rate()/e.rate(), "verify/echo")
}

// BenchmarkHTTPPresentationsVerifyAtRate offers the same verifications as
// BenchmarkHTTPPresentationsVerify at a fixed rate, benchRate per second
// (open loop: request i is due at start + i/benchRate, whether or not
// earlier answers have come), b.N requests in all after an unmeasured
// second at the rate, and then the echo baseline the same way. A
// request's latency runs from when it was due, not from when a free
// client sent it, so a server that falls behind shows it in the
// percentiles instead of slowing the load down (coordinated omission).
// This is the measure of the issue 4 target: at 2,000 verifications/s,
// p99 under 20 ms.
//
// Metrics: verify_req/s (achieved), verify_p50_ms, verify_p99_ms,
// verify_max_ms, the same for echo_, and sync_p50_us: the median time of
// a 4 KB write and fsync in the benchmark's temporary directory,
// measured just before the load. Every verification waits for a synced
// store commit, so the disk's sync latency, which varies on this shared
// machine by 3× from hour to hour, is the baseline that explains a run;
// and the server's usage, as in BenchmarkHTTPPresentationsVerify.
func BenchmarkHTTPPresentationsVerifyAtRate(b *testing.B) {
	disk := syncLatency(b, b.TempDir())
	verify, echo := presentationsVerifyLoad(b)
	// A second at the rate first, unmeasured: it opens the connections
	// and brings the server to its steady state (caches, the store's and
	// the ledger's files, the runtime's heap and stacks).
	if w := driveAt(verify, benchRate, benchRate); w.err != nil {
		b.Fatalf("warm-up: %v", w.err)
	}
	v := measured(b, verify, func() loadResult { return driveAt(verify, b.N, benchRate) })
	if w := driveAt(echo, benchRate, benchRate); w.err != nil {
		b.Fatalf("echo warm-up: %v", w.err)
	}
	e := driveAt(echo, b.N, benchRate)
	if e.err != nil {
		b.Fatal(e.err)
	}
	v.report(b, "verify", true)
	e.report(b, "echo", true)
	b.ReportMetric(float64(disk.Microseconds()), "sync_p50_us")
}

// measured runs load as the benchmark's timed part, fails b if it
// failed, reports the server's usage during it (reportUsage) and
// returns its result.
func measured(b *testing.B, t *loadTarget, load func() loadResult) loadResult {
	u0 := t.serverUsage(b)
	b.ResetTimer()
	v := load()
	b.StopTimer()
	if v.err != nil {
		b.Fatal(v.err)
	}
	reportUsage(b, u0, t.serverUsage(b), v)
	return v
}

// reportUsage reports what the server process used between the
// readings u0 and u1 (all its threads, background work included), per
// verification of v: server_cpu_us/op, its user and system CPU time;
// server_cores, the share of the machine's cores it kept busy; and
// server_written_KB/op, the bytes it had written to storage (journal,
// store and ledger; page-cache writes, counted when dirtied). The CPU
// time moves less with the machine's other load than the latencies (by
// up to a third between sets of runs an hour apart here, against 5× for
// p99), so it is the better figure for what a change to the request
// path costs, compared within one set. Not reported where /proc is
// missing.
func reportUsage(b *testing.B, u0, u1 processUsage, v loadResult) {
	if !u0.ok || v.n == 0 {
		return
	}
	cpu := u1.cpu - u0.cpu
	b.ReportMetric(float64(cpu.Microseconds())/float64(v.n), "server_cpu_us/op")
	b.ReportMetric(cpu.Seconds()/v.elapsed.Seconds(), "server_cores")
	b.ReportMetric(float64(u1.written-u0.written)/1024/float64(v.n), "server_written_KB/op")
}

// syncLatency returns the median time of 200 writes of 4 KB, each
// followed by fsync, to a file in dir.
func syncLatency(b *testing.B, dir string) time.Duration {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "sync-baseline"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	d := make([]time.Duration, 200)
	for i := range d {
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// presentationsVerifyLoad starts a server (`medid serve`, in a process of
// its own), receives a PatientIdentityCredential from it and returns the verification request (with a fresh Key Binding
// JWT every benchRefresh) and the echo baseline's request with the same
// body and headers, after one warm-up verification.
func presentationsVerifyLoad(b *testing.B) (verify, echo *loadTarget) {
	base, admin, pid := startServeProcess(b)
	holder, err := keys.Generate(keys.ES256)
	if err != nil {
		b.Fatal(err)
	}
	cred := issuePatientIdentity(b, base, admin, holder)

	verify = &loadTarget{addr: strings.TrimPrefix(base, "http://"), path: "/presentations/verify", token: admin, pid: pid}
	echo = &loadTarget{addr: echoServer(b), path: "/echo", token: admin}
	build := func() error {
		vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}, []any{"family_name"}, []any{"birthdate"}),
			&sdjwt.KeyBindingOptions{Key: holder, Nonce: benchChallenge, Audience: benchDomain, IssuedAt: time.Now()})
		if err != nil {
			return err
		}
		body, err := json.Marshal(map[string]any{"verifiablePresentation": vp,
			"options": map[string]any{"challenge": benchChallenge, "domain": benchDomain}})
		if err != nil {
			return err
		}
		verify.setBody(body)
		echo.setBody(body)
		return nil
	}
	if err := build(); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		tick := time.NewTicker(benchRefresh)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := build(); err != nil {
					b.Error(err)
				}
			}
		}
	}()
	b.Cleanup(func() { close(stop); <-refreshed })

	// One request first: it must verify, and it warms the status list
	// and key caches as a running server's would be.
	if res := drive(verify, 1, 1); res.err != nil {
		b.Fatalf("warm-up: %v", res.err)
	}
	return verify, echo
}

// startServeProcess builds cmd/medid and runs `medid serve` on a loopback
// port with a fresh data directory, as it runs in production: a process
// of its own, with its own runtime (and GOGC 200 unless the environment
// sets GOGC), so the load generator's goroutines, heap and collections are
// not the server's. It returns the base URL, the admin token and the
// server's process id.
func startServeProcess(b *testing.B) (base, admin string, pid int) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "medid")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/medid/medid/cmd/medid").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := filepath.Join(dir, "data")
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	})
	base = "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			b.Fatalf("medid serve exited:\n%s", log)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("medid serve not ready after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		b.Fatal(err)
	}
	return base, strings.TrimSpace(string(token)), cmd.Process.Pid
}

// processUsage is what a process has used so far.
type processUsage struct {
	ok      bool          // false where the system does not tell
	cpu     time.Duration // user and system CPU time
	written int64         // bytes written to storage
}

// readUsage reads process pid's usage from /proc/pid/stat (utime and
// stime, in clock ticks of 10 ms, the Linux USER_HZ) and /proc/pid/io
// (write_bytes).
func readUsage(pid int) (processUsage, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) && runtime.GOOS != "linux" {
		return processUsage{}, nil
	}
	if err != nil {
		return processUsage{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return processUsage{}, fmt.Errorf("/proc/%d/stat: %q", pid, raw)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return processUsage{}, fmt.Errorf("/proc/%d/stat: %q", pid, raw)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return processUsage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	u := processUsage{ok: true, cpu: time.Duration(ticks) * 10 * time.Millisecond}
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return processUsage{}, err
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			if u.written, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return processUsage{}, fmt.Errorf("/proc/%d/io: %w", pid, err)
			}
			return u, nil
		}
	}
	return processUsage{}, fmt.Errorf("/proc/%d/io: no write_bytes in %q", pid, io)
}

// loadResult is the outcome of one drive.
type loadResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration // sorted
	err     error
}

func (r loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// pct returns the p-th percentile latency in milliseconds.
func (r loadResult) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p/100+0.5) - 1
	i = max(0, min(i, len(r.lat)-1))
	return float64(r.lat[i]) / float64(time.Millisecond)
}

// report reports r's rate, p50 and p99 (and its maximum if max) as the
// metrics name_req/s, name_p50_ms, name_p99_ms and name_max_ms.
func (r loadResult) report(b *testing.B, name string, max bool) {
	b.ReportMetric(r.rate(), name+"_req/s")
	b.ReportMetric(r.pct(50), name+"_p50_ms")
	b.ReportMetric(r.pct(99), name+"_p99_ms")
	if max {
		b.ReportMetric(r.pct(100), name+"_max_ms")
	}
}

// drive sends n requests to t from clients concurrent connections, each
// waiting for its answer before the next, and stops at the first answer
// other than 200.
func drive(t *loadTarget, n, clients int) loadResult {
	return load(t, n, clients, nil)
}

// driveAt sends n requests to t at rate per second, request i due at
// start + i/rate, from as many concurrent connections as it takes (at
// most benchMaxClients), and stops at the first answer other than 200.
// Each latency is measured from the request's due time.
func driveAt(t *loadTarget, n int, rate float64) loadResult {
	interval := time.Duration(float64(time.Second) / rate)
	return load(t, n, benchMaxClients, func(start time.Time, i int) time.Time {
		return start.Add(time.Duration(i) * interval)
	})
}

// load runs n requests to t from clients connections. With due nil each
// connection sends as soon as it has its last answer and latencies run
// from the send; otherwise request i waits until due(start, i) and its
// latency runs from then.
func load(t *loadTarget, n, clients int, due func(start time.Time, i int) time.Time) loadResult {
	var next atomic.Int64
	var failed atomic.Bool
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			conn := &rawConn{addr: t.addr}
			defer conn.close()
			mine := make([]time.Duration, 0, n/clients+1)
			defer func() { lats[c] = mine }()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				from := time.Now()
				if due != nil {
					from = due(start, i)
					time.Sleep(time.Until(from))
				}
				status, body, err := conn.do(t.request())
				if err != nil {
					fail(fmt.Errorf("%s: %w", t.path, err))
					return
				}
				mine = append(mine, time.Since(from))
				if status != http.StatusOK {
					fail(fmt.Errorf("%s: %d %.300s", t.path, status, body))
					return
				}
			}
		})
	}
	wg.Wait()
	r := loadResult{n: n, elapsed: time.Since(start), lat: slices.Concat(lats...), err: firstErr}
	slices.Sort(r.lat)
	return r
}

// loadTarget is the request a load sends: built once per body, so that
// the load generator spends as little of the machine's CPU as it can.
type loadTarget struct {
	addr, path, token string
	pid               int // the server's process, 0 when it is this one
	req               atomic.Pointer[[]byte]
}

// serverUsage returns what t's server process has used so far (see
// readUsage); not ok when it is not a process of its own or the system
// does not tell.
func (t *loadTarget) serverUsage(b *testing.B) processUsage {
	if t.pid == 0 {
		return processUsage{}
	}
	u, err := readUsage(t.pid)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// setBody builds the request with body.
func (t *loadTarget) setBody(body []byte) {
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		t.path, t.addr, t.token, len(body))
	req = append(req, body...)
	t.req.Store(&req)
}

func (t *loadTarget) request() []byte { return *t.req.Load() }

// echoServer runs the baseline on a loopback listener: a handler that
// reads the request body and writes it back. It returns its address.
func echoServer(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	return l.Addr().String()
}
