package issuer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time: on a shared machine
// CPU time per operation is a steadier measure of work than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bytesWritten is what the process has written to files and sockets
// (wchar of /proc/self/io), or -1 where that is not available.
func bytesWritten() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// BenchmarkVCAPIIssue measures POST /credentials/issue of a vc+jwt
// PatientIdentityCredential in process (no network), from 32 concurrent
// callers, with everything a served issuance does: JSON in and out, admin
// check, claims validation, two Bitstring Status List entries, an ES256
// signature and the issuance record made durable (fsync) before the
// answer. Besides wall time per credential it reports CPU time
// (cpu-ns/op) and bytes written (written-B/op, mostly the store's). The
// same-run baseline, raw-es256, is an ES256 signature (SHA-256 and
// crypto/ecdsa) over a message the size of the credential's signing
// input, from as many callers: issue's cpu-ns/op divided by raw-es256's is
// the cost of an issuance in signatures.
func BenchmarkVCAPIIssue(b *testing.B) {
	key := testIssuerKey(b)
	b.Run("issue", func(b *testing.B) {
		v := newVCAPIEnv(b, filepath.Join(b.TempDir(), "kv.db"), key)
		defer v.close()
		body := []byte(vcapiBody)
		if rec := v.issue(body); rec.Code != http.StatusCreated {
			b.Fatalf("issue: %d %s", rec.Code, rec.Body)
		}
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		cpu, written := cpuTime(), bytesWritten()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if rec := v.issue(body); rec.Code != http.StatusCreated {
					b.Errorf("issue: %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		if written >= 0 {
			b.ReportMetric(float64(bytesWritten()-written)/float64(b.N), "written-B/op")
		}
	})
	b.Run("raw-es256", func(b *testing.B) {
		msg := bytes.Repeat([]byte{'a'}, 1540)
		b.ReportAllocs()
		b.SetParallelism(16)
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h := sha256.Sum256(msg)
				if _, err := key.Key.Signer().Sign(rand.Reader, h[:], crypto.SHA256); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
}
