// Command pacedmock is an OpenAI-compatible mock upstream with a configurable latency shape.
//
// POST .../chat/completions (any prefix, so both /v1/... and /stream/v1/... work):
//
//   - "stream": true in the JSON body: the response headers are sent at once, then -chunks content chunks as SSE
//     events, the first one -ttft after the request arrived and each next one -gap after the previous one (the
//     times are scheduled from the arrival time, so timer lateness does not accumulate). When
//     stream_options.include_usage is true a final usage chunk ("choices": []) follows the last content chunk,
//     then "data: [DONE]".
//   - otherwise: one chat.completion JSON body with usage, after -json-delay (default: -ttft).
//
// Requests without "Authorization: Bearer <-key>" get 401 (unless -key is empty). GET /healthz answers ok.
// The process exits by itself after -lifetime.
//
//	pacedmock -addr 127.0.0.1:18090 -ttft 100ms -gap 5ms -chunks 50
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	chunkID   = "chatcmpl-PACED000000000000000000000000"
	modelName = "gpt-4o-mini-2024-07-18"
	created   = 1735689600
	promptTok = 36
)

type requestBody struct {
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type mock struct {
	ttft, gap, jsonDelay time.Duration
	chunks               int
	auth                 string
	events               [][]byte // content chunks, prebuilt
	usage                []byte
	completion           []byte
}

func newMock(ttft, gap, jsonDelay time.Duration, chunks int, key string) *mock {
	m := &mock{ttft: ttft, gap: gap, jsonDelay: jsonDelay, chunks: chunks}
	if key != "" {
		m.auth = "Bearer " + key
	}
	words := make([]string, chunks)
	for i := 0; i < chunks; i++ {
		words[i] = fmt.Sprintf(" tok%d", i)
		delta := fmt.Sprintf(`{"content":%q}`, words[i])
		if i == 0 {
			delta = fmt.Sprintf(`{"role":"assistant","content":%q}`, words[i])
		}
		finish := "null"
		if i == chunks-1 {
			finish = `"stop"`
		}
		m.events = append(m.events, []byte(fmt.Sprintf(
			`data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,"choices":[{"index":0,`+
				`"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":null}`+"\n\n",
			chunkID, created, modelName, delta, finish)))
	}
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,`+
		`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},`+
		`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}`, promptTok, chunks, promptTok+chunks)
	m.usage = []byte(fmt.Sprintf(`data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,`+
		`"choices":[],"usage":%s}`+"\n\n", chunkID, created, modelName, usage))
	m.completion = []byte(fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%q,"refusal":null},"logprobs":null,`+
		`"finish_reason":"stop"}],"usage":%s}`, chunkID, created, modelName, strings.Join(words, ""), usage))
	return m
}

func (m *mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok")
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	if m.auth != "" && r.Header.Get("Authorization") != m.auth {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"message":"bad upstream key","type":"invalid_request_error"}}`)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body requestBody
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}`)
		return
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	wait := func(at time.Time) bool {
		timer.Reset(time.Until(at))
		select {
		case <-timer.C:
			return true
		case <-r.Context().Done():
			return false
		}
	}
	if !body.Stream {
		if !wait(arrived.Add(m.jsonDelay)) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(m.completion)))
		_, _ = w.Write(m.completion)
		return
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	for i, ev := range m.events {
		if !wait(arrived.Add(m.ttft + time.Duration(i)*m.gap)) {
			return
		}
		if i == len(m.events)-1 && body.StreamOptions != nil && body.StreamOptions.IncludeUsage {
			ev = append(append(append([]byte{}, ev...), m.usage...), "data: [DONE]\n\n"...)
		} else if i == len(m.events)-1 {
			ev = append(append([]byte{}, ev...), "data: [DONE]\n\n"...)
		}
		if _, err := w.Write(ev); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	ttft := flag.Duration("ttft", 100*time.Millisecond, "time from request arrival to the first content chunk")
	gap := flag.Duration("gap", 5*time.Millisecond, "time between content chunks")
	chunks := flag.Int("chunks", 50, "content chunks per stream")
	jsonDelay := flag.Duration("json-delay", -1, "delay before a non-stream response (default: -ttft)")
	key := flag.String("key", "sk-bench-upstream", "required upstream bearer key ('' = none)")
	lifetime := flag.Duration("lifetime", time.Hour, "exit after this long")
	flag.Parse()
	if *chunks < 1 || *ttft < 0 || *gap < 0 {
		fmt.Fprintln(os.Stderr, "pacedmock: -chunks must be ≥ 1, -ttft and -gap ≥ 0")
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "pacedmock: -addr must be a loopback host:port")
		os.Exit(2)
	}
	if *jsonDelay < 0 {
		*jsonDelay = *ttft
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           newMock(*ttft, *gap, *jsonDelay, *chunks, *key),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       300 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		time.Sleep(*lifetime)
		fmt.Fprintln(os.Stderr, "pacedmock: lifetime reached, exiting")
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "pacedmock on http://%s: ttft %v, %d chunks %v apart\n", ln.Addr(), *ttft, *chunks, *gap)
	if err := srv.Serve(ln); err != nil {
		log.Fatal(err)
	}
}
