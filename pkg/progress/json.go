package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Event is one JSON line of --progress json. Every line gantry writes to
// standard error in that mode is one Event:
//
//	start     a blob transfer begins: id (digest), name, total (bytes; -1 unknown)
//	progress  bytes moved so far: id, name, current (at most every 100 ms per blob)
//	done      a blob or a step ended well: id, name; current (blob bytes); cached (step)
//	skip      a blob not moved: id, name, reason ("exists", "already in store")
//	step      a build step begins: id ("#3"), name ("[build 2/4] RUN make")
//	log       one line of a step's output: id, message
//	fail      id and error: that blob or step failed; without id: the command
//	          failed with error, the last line gantry writes before exiting non-zero
//	message   a status line: message
type Event struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	ID      string    `json:"id,omitempty"`
	Name    string    `json:"name,omitempty"`
	Total   int64     `json:"total,omitempty"`
	Current int64     `json:"current,omitempty"`
	Cached  bool      `json:"cached,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Error   string    `json:"error,omitempty"`
	Message string    `json:"message,omitempty"`
}

// WriteFailure writes the fail event of a command that failed with err: the
// --progress json form of "gantry: <error>".
func WriteFailure(w io.Writer, err error) error {
	return json.NewEncoder(w).Encode(Event{Time: time.Now().UTC(), Event: "fail", Error: err.Error()})
}

// jsonLines emits Events. Byte counts are throttled to one event per blob per
// 100 ms so a fast pull does not flood the reader.
type jsonLines struct {
	mu      sync.Mutex
	enc     *json.Encoder
	current map[string]int64
	last    map[string]time.Time
	names   map[string]string
}

func newJSON(w io.Writer) *jsonLines {
	return &jsonLines{enc: json.NewEncoder(w), current: map[string]int64{}, last: map[string]time.Time{}, names: map[string]string{}}
}

func (j *jsonLines) emit(e Event) {
	e.Time = time.Now().UTC()
	_ = j.enc.Encode(e)
}

func (j *jsonLines) Start(id, name string, total int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.names[id] = name
	j.emit(Event{Event: "start", ID: id, Name: name, Total: total})
}

func (j *jsonLines) Add(id string, n int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.current[id] += n
	if now := time.Now(); now.Sub(j.last[id]) >= 100*time.Millisecond {
		j.last[id] = now
		j.emit(Event{Event: "progress", ID: id, Name: j.names[id], Current: j.current[id]})
	}
}

func (j *jsonLines) Done(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "done", ID: id, Name: j.names[id], Current: j.current[id]})
}

func (j *jsonLines) Skip(id, name, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "skip", ID: id, Name: name, Reason: reason})
}

func (j *jsonLines) Fail(id string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "fail", ID: id, Name: j.names[id], Error: err.Error()})
}

func (j *jsonLines) Printf(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "message", Message: strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")})
}

func (j *jsonLines) Step(id, name string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.names[id] = name
	j.emit(Event{Event: "step", ID: id, Name: name})
}

func (j *jsonLines) Log(id, line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "log", ID: id, Message: line})
}

func (j *jsonLines) StepDone(id string, cached bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Event: "done", ID: id, Name: j.names[id], Cached: cached})
}

func (j *jsonLines) Close() {}
