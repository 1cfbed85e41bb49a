// Command sseload is a small closed-loop HTTP load generator for OpenAI-style chat completions.
//
// Each of -c workers sends POST requests one after another on its own keep-alive connection until -d has passed
// (or -n requests were started), then the requests in flight are allowed to finish. Responses are read line by
// line: for a text/event-stream response the time to first byte (TTFB) is the time until the first line that
// starts with "data:" (headers and comments do not count); for any other response it is the first body byte.
// Total time is until the end of the body. A stream that does not end with "data: [DONE]" counts as an error
// (incomplete), and so does a stream that carries an error event (`data: {"error": ...`).
//
// The result is one JSON object on stdout: req/s, p50/p90/p99 of TTFB and total time, error counts by kind and
// status codes. With -progress, a JSON line with the running counts goes to stderr at that interval.
//
// Only loopback targets are accepted.
//
//	sseload -url http://127.0.0.1:8080/v1/chat/completions -body req.json -H 'Authorization: Bearer sk-...' \
//	        -c 64 -d 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type errKind int

const (
	errNone errKind = iota
	errConnect
	errTimeout
	errRead
	errStatus
	errIncomplete
	errStreamError
	nErrKinds
)

var errNames = [nErrKinds]string{"", "connect", "timeout", "read", "status", "incomplete", "stream_error"}

type sample struct {
	ttfb  time.Duration
	total time.Duration
}

type worker struct {
	samples  []sample
	errs     [nErrKinds]int64
	statuses map[int]int64
	bytes    int64
	events   int64
	firstErr []string
}

type counters struct {
	ok, failed atomic.Int64
}

type stats struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

type result struct {
	Label        string           `json:"label,omitempty"`
	URL          string           `json:"url"`
	Concurrency  int              `json:"concurrency"`
	StaggerMs    float64          `json:"stagger_ms"`
	RateLimit    float64          `json:"rate_limit"`
	DurationS    float64          `json:"duration_s"`
	Attempts     int64            `json:"attempts"`
	Requests     int64            `json:"requests"`
	RPS          float64          `json:"rps"`
	Errors       map[string]int64 `json:"errors"`
	ErrorTotal   int64            `json:"error_total"`
	StatusCodes  map[string]int64 `json:"status_codes"`
	TTFBms       *stats           `json:"ttfb_ms"`
	TotalMs      *stats           `json:"total_ms"`
	EventsMean   float64          `json:"events_per_response"`
	Bytes        int64            `json:"bytes"`
	SampleErrors []string         `json:"sample_errors"`
}

func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing non-loopback target %q", host)
	}
	return nil
}

func classify(err error, ctx context.Context) errKind {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return errTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errTimeout
	}
	return errRead
}

// one sends a request and reads the whole response, line by line when it is an SSE stream.
func one(client *http.Client, target string, body []byte, headers http.Header, timeout time.Duration,
	br *bufio.Reader, w *worker) (errKind, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errConnect, err.Error()
	}
	req.Header = headers.Clone()
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		k := classify(err, ctx)
		if k == errRead {
			k = errConnect
		}
		return k, err.Error()
	}
	defer resp.Body.Close()
	w.statuses[resp.StatusCode]++
	br.Reset(resp.Body)
	if resp.StatusCode != http.StatusOK {
		n, _ := io.Copy(io.Discard, br)
		w.bytes += n
		return errStatus, fmt.Sprintf("status %d", resp.StatusCode)
	}
	var ttfb time.Duration
	var nbytes, events int64
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		done, streamErr := false, false
		partial := false // the previous ReadSlice stopped at a full buffer: this is the rest of a line
		for {
			line, err := br.ReadSlice('\n')
			nbytes += int64(len(line))
			if len(line) > 0 && !partial && bytes.HasPrefix(line, []byte("data:")) {
				if ttfb == 0 {
					ttfb = time.Since(start)
				}
				events++
				payload := bytes.TrimSpace(line[5:])
				if bytes.Equal(payload, []byte("[DONE]")) {
					done = true
				} else if bytes.HasPrefix(payload, []byte(`{"error"`)) {
					streamErr = true
				}
			}
			partial = errors.Is(err, bufio.ErrBufferFull)
			if err != nil && !partial {
				if err != io.EOF {
					w.bytes += nbytes
					return classify(err, ctx), err.Error()
				}
				break
			}
		}
		w.bytes += nbytes
		w.events += events
		if streamErr {
			return errStreamError, "stream carried an error event"
		}
		if !done {
			return errIncomplete, "stream ended without data: [DONE]"
		}
	} else {
		if _, err := br.ReadByte(); err != nil {
			if err != io.EOF {
				return classify(err, ctx), err.Error()
			}
		} else {
			nbytes = 1
		}
		ttfb = time.Since(start)
		n, err := io.Copy(io.Discard, br)
		nbytes += n
		w.bytes += nbytes
		if err != nil {
			return classify(err, ctx), err.Error()
		}
	}
	w.samples = append(w.samples, sample{ttfb: ttfb, total: time.Since(start)})
	return errNone, ""
}

func summarize(ds []time.Duration) *stats {
	if len(ds) == 0 {
		return nil
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	pct := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(ds)))) - 1
		if i < 0 {
			i = 0
		}
		return ms(ds[i])
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return &stats{
		Min: ms(ds[0]), Mean: ms(sum / time.Duration(len(ds))), P50: pct(50), P90: pct(90), P99: pct(99),
		P999: pct(99.9), Max: ms(ds[len(ds)-1]),
	}
}

func main() {
	var bodies, hdrs multiFlag
	target := flag.String("url", "", "target URL (loopback only)")
	flag.Var(&bodies, "body", "request body file (repeatable: each worker rotates through them, starting at its index)")
	flag.Var(&hdrs, "H", "request header 'Name: value' (repeatable)")
	conc := flag.Int("c", 16, "concurrent workers (one keep-alive connection each)")
	dur := flag.Duration("d", 10*time.Second, "how long to start new requests")
	maxReq := flag.Int64("n", 0, "stop after starting this many requests (0: no limit)")
	rate := flag.Float64("rate", 0, "start at most this many requests per second in total (0: closed loop)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request timeout")
	progress := flag.Duration("progress", 0, "print running counts to stderr at this interval (0: off)")
	label := flag.String("label", "", "label copied into the JSON output")
	stagger := flag.Duration("stagger", 0, "worker i waits i*stagger before its first request (spreads streams out)")
	flag.Parse()

	if *target == "" || len(bodies) == 0 || *conc < 1 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "sseload: -url and -body are required; -c and -d must be positive")
		os.Exit(2)
	}
	if *dur > 24*time.Hour || *timeout > time.Hour {
		fmt.Fprintln(os.Stderr, "sseload: -d is capped at 24h and -timeout at 1h")
		os.Exit(2)
	}
	if err := loopbackOnly(*target); err != nil {
		fmt.Fprintln(os.Stderr, "sseload:", err)
		os.Exit(2)
	}
	payloads := make([][]byte, len(bodies))
	for i, b := range bodies {
		data, err := os.ReadFile(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sseload:", err)
			os.Exit(2)
		}
		payloads[i] = data
	}
	headers := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"weir-bench-sseload"}}
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "sseload: bad header %q\n", h)
			os.Exit(2)
		}
		headers.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}

	transport := &http.Transport{
		Proxy:               nil, // never an environment proxy: loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *conc * 2,
		MaxIdleConnsPerHost: *conc * 2,
		IdleConnTimeout:     120 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      64 << 10,
	}
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}

	start := time.Now()
	stopAt := start.Add(*dur)
	var issued atomic.Int64
	var cnt counters

	var tokens chan struct{}
	stopTokens := make(chan struct{})
	if *rate > 0 {
		tokens = make(chan struct{})
		go func() {
			interval := time.Duration(float64(time.Second) / *rate)
			next := time.Now()
			timer := time.NewTimer(0)
			defer timer.Stop()
			for {
				select {
				case <-timer.C:
				case <-stopTokens:
					return
				}
				select {
				case tokens <- struct{}{}:
				case <-stopTokens:
					return
				}
				next = next.Add(interval)
				if lag := time.Since(next); lag > time.Second {
					next = time.Now() // do not burst to catch up after a stall
				}
				timer.Reset(time.Until(next))
			}
		}()
	}

	var progressDone chan struct{}
	if *progress > 0 {
		progressDone = make(chan struct{})
		go func() {
			t := time.NewTicker(*progress)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					fmt.Fprintf(os.Stderr, "{\"t_s\":%.1f,\"ok\":%d,\"errors\":%d}\n",
						time.Since(start).Seconds(), cnt.ok.Load(), cnt.failed.Load())
				case <-progressDone:
					return
				}
			}
		}()
	}

	workers := make([]*worker, *conc)
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	for i := range workers {
		w := &worker{statuses: map[int]int64{}, samples: make([]sample, 0, 4096)}
		workers[i] = w
		wg.Add(1)
		go func(i int, w *worker) {
			defer wg.Done()
			br := bufio.NewReaderSize(nil, 64<<10)
			if *stagger > 0 && i > 0 {
				select {
				case <-time.After(time.Duration(i) * *stagger):
				case <-time.After(time.Until(stopAt)):
					return
				}
			}
			for k := i; ; k++ {
				if tokens != nil {
					select {
					case <-tokens:
					case <-time.After(time.Until(stopAt)):
						return
					}
				}
				if !time.Now().Before(stopAt) {
					return
				}
				if *maxReq > 0 && issued.Add(1) > *maxReq {
					return
				}
				kind, msg := one(client, *target, payloads[k%len(payloads)], headers, *timeout, br, w)
				lastDone.Store(int64(time.Since(start)))
				if kind == errNone {
					cnt.ok.Add(1)
				} else {
					cnt.failed.Add(1)
					w.errs[kind]++
					if len(w.firstErr) < 3 {
						w.firstErr = append(w.firstErr, errNames[kind]+": "+msg)
					}
				}
			}
		}(i, w)
	}
	wg.Wait()
	close(stopTokens)
	if progressDone != nil {
		close(progressDone)
	}
	transport.CloseIdleConnections()

	elapsed := time.Duration(lastDone.Load())
	if elapsed <= 0 {
		elapsed = time.Since(start)
	}
	res := result{
		Label: *label, URL: *target, Concurrency: *conc, RateLimit: *rate, StaggerMs: float64(*stagger) / 1e6,
		DurationS:   math.Round(elapsed.Seconds()*1000) / 1000,
		Errors:      map[string]int64{},
		StatusCodes: map[string]int64{},
	}
	var ttfbs, totals []time.Duration
	var events int64
	for _, w := range workers {
		for _, s := range w.samples {
			ttfbs = append(ttfbs, s.ttfb)
			totals = append(totals, s.total)
		}
		for k := errConnect; k < nErrKinds; k++ {
			res.Errors[errNames[k]] += w.errs[k]
			res.ErrorTotal += w.errs[k]
		}
		for code, n := range w.statuses {
			res.StatusCodes[fmt.Sprint(code)] += n
		}
		res.Bytes += w.bytes
		events += w.events
		for _, e := range w.firstErr {
			if len(res.SampleErrors) < 5 {
				res.SampleErrors = append(res.SampleErrors, e)
			}
		}
	}
	res.Requests = int64(len(totals))
	res.Attempts = res.Requests + res.ErrorTotal
	if elapsed > 0 {
		res.RPS = math.Round(float64(res.Requests)/elapsed.Seconds()*10) / 10
	}
	if res.Attempts > 0 {
		res.EventsMean = math.Round(float64(events)/float64(res.Attempts)*100) / 100
	}
	res.TTFBms = summarize(ttfbs)
	res.TotalMs = summarize(totals)
	if res.SampleErrors == nil {
		res.SampleErrors = []string{}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		os.Exit(1)
	}
}
