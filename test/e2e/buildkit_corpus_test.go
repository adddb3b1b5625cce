package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The cases ported from BuildKit's own Dockerfile frontend tests live in
// buildkit/<case>/: a Dockerfile, an optional context/ folder and a
// case.json. TestBuildKitCorpus builds each with BuildKit and with gantry
// and compares the images as buildBoth does. Two lists keep the run honest:
// KNOWN_DIFFERENCES.md (where BuildKit is no reference: nondeterministic or
// wrong) and buildkit/GANTRY_FAILS (where gantry still differs: each listed
// case must still differ, every other case must match).

const (
	buildkitCases    = "buildkit"
	gantryFailsFile  = "buildkit/GANTRY_FAILS"
	knownDiffsFile   = "KNOWN_DIFFERENCES.md"
	listHeading      = "## Cases and paths" // of knownDiffsFile
	parallelCompares = 2                    // builds at once; CI has 2 cores
)

// caseSpec is a case.json.
type caseSpec struct {
	From       string            `json:"from"`       // the BuildKit test it ports: "FILE TestName"
	Args       map[string]string `json:"args"`       // build arguments
	Target     string            `json:"target"`     // stage to build
	Platform   string            `json:"platform"`   // os/arch to build for
	Fail       string            `json:"fail"`       // BuildKit fails with this in its error; gantry must fail too
	Dockerfile string            `json:"dockerfile"` // relative to the case folder; default Dockerfile
	Secrets    map[string]string `json:"secrets"`    // id → value, for RUN --mount=type=secret
	Ignore     []string          `json:"ignore"`     // paths left out of the comparison (reason in KNOWN_DIFFERENCES.md)
	Note       string            `json:"note"`       // what the case checks, and how it departs from the original
}

var caseName = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)

func readCase(dir string) (caseSpec, error) {
	var c caseSpec
	raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s/case.json: %w", dir, err)
	}
	if c.From == "" {
		return c, fmt.Errorf("%s/case.json: \"from\" must name the BuildKit test it ports", dir)
	}
	return c, nil
}

// listFile parses the "NAME: reason" lines of a list; NAME may be
// "case /path" for one path of a case. In a markdown file the list is the
// "- NAME: reason" items after the heading listHeading; the rest is prose.
func listFile(path string, markdown bool) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	inList := !markdown
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if markdown {
			if strings.HasPrefix(line, "#") {
				inList = line == listHeading
				continue
			}
			var ok bool
			if line, ok = strings.CutPrefix(line, "- "); !inList || !ok {
				continue
			}
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, ok := strings.Cut(line, ": ")
		key = strings.Trim(strings.TrimSpace(key), "`")
		if !ok || strings.TrimSpace(reason) == "" || strings.ContainsAny(key, "` ") && !strings.Contains(key, " /") {
			return nil, fmt.Errorf("%s: %q is not \"case-name: reason\" or \"case-name /path: reason\"", path, line)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s lists %s twice", path, key)
		}
		out[key] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

var (
	listsOnce sync.Once
	failsList map[string]string
	knownList map[string]string
	listsErr  error
)

func loadLists() {
	listsOnce.Do(func() {
		if failsList, listsErr = listFile(gantryFailsFile, false); listsErr != nil {
			return
		}
		knownList, listsErr = listFile(knownDiffsFile, true)
	})
}

// gantryFails is GANTRY_FAILS: comparison key → the difference it shows.
func gantryFails() map[string]string {
	loadLists()
	if listsErr != nil {
		panic(listsErr) // TestMain checked them: only an edit during the run gets here
	}
	return failsList
}

// checkLists fails the run when a list is unreadable or names what does
// not exist, so neither can go stale.
func checkLists(cases []string) error {
	loadLists()
	if listsErr != nil {
		return listsErr
	}
	exists := map[string]bool{}
	for _, c := range cases {
		exists[c] = true
	}
	corpus, _ := filepath.Glob("dockerfiles/[a-z]*")
	for _, d := range corpus {
		exists["dockerfiles/"+filepath.Base(d)] = true
	}
	var bad []string
	for key := range failsList {
		if !exists[key] && !strings.HasPrefix(key, "e2e/") {
			bad = append(bad, fmt.Sprintf("%s names %s, which is no case", gantryFailsFile, key))
		}
	}
	for key := range knownList {
		c, p, _ := strings.Cut(key, " ")
		if !exists[c] {
			bad = append(bad, fmt.Sprintf("%s names %s, which is no case", knownDiffsFile, c))
		} else if p != "" && !strings.HasPrefix(p, "/") {
			bad = append(bad, fmt.Sprintf("%s: %q: a path must be absolute", knownDiffsFile, key))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
}

// caseNames lists the ported cases: the folders of buildkit/ with a case.json.
func caseNames() []string {
	files, _ := filepath.Glob(filepath.Join(buildkitCases, "*", "case.json"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(filepath.Dir(f)))
	}
	return names
}

func TestBuildKitCorpus(t *testing.T) {
	names := caseNames()
	if len(names) == 0 {
		t.Fatalf("no cases in %s/", buildkitCases)
	}
	// TestMain checked the lists (checkLists) before any test ran.
	slots := make(chan struct{}, parallelCompares)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			runCase(t, n)
		})
	}
}

// runCase builds one ported case with both builders and compares them.
func runCase(t *testing.T, n string) {
	dir := filepath.Join(buildkitCases, n)
	if !caseName.MatchString(n) {
		t.Fatalf("case name %q: use lower-case letters, digits and . _ - (it names a registry repository)", n)
	}
	c, err := readCase(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.build(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	var ignore []string
	for _, p := range c.Ignore {
		if _, ok := knownList[n+" "+p]; !ok {
			t.Errorf("case.json ignores %s: give the reason in %s as \"- %s %s: reason\"", p, knownDiffsFile, n, p)
		}
		ignore = append(ignore, p)
	}
	for key := range knownList {
		if cn, p, ok := strings.Cut(key, " "); ok && cn == n && !contains(c.Ignore, p) {
			t.Errorf("%s gives a reason for %s %s, which case.json does not ignore", knownDiffsFile, n, p)
		}
	}
	bkRef, gRef := refTags(n)
	e := newEnv(t)
	bkErr, gErr := runBuildKit(b, bkRef), runGantry(e, b, gRef)
	if why, ok := knownList[n]; ok {
		// BuildKit is no reference here; gantry must still do what the
		// case asks of it.
		t.Logf("not compared (%s: %s)", knownDiffsFile, why)
		if c.Fail == "" && gErr != nil {
			t.Errorf("gantry failed: %v", gErr)
		} else if c.Fail != "" && gErr == nil {
			t.Errorf("gantry built a case that must fail")
		}
		return
	}
	var diffs []string
	switch {
	case c.Fail != "":
		if bkErr == nil {
			t.Fatalf("BuildKit built the case, which says it fails with %q: fix case.json", c.Fail)
		}
		if !strings.Contains(bkErr.Error(), c.Fail) {
			t.Fatalf("BuildKit failed without %q in its error: %v", c.Fail, bkErr)
		}
		if gErr == nil {
			diffs = append(diffs, fmt.Sprintf("BuildKit fails (%q), gantry builds it", c.Fail))
		}
	case bkErr != nil:
		t.Fatalf("the reference build failed: %v", bkErr)
	case gErr != nil:
		diffs = append(diffs, "BuildKit builds it, gantry fails: "+errorLine(gErr))
		if _, listed := gantryFails()[n]; !listed {
			t.Log(gErr)
		}
	default:
		if diffs, err = compareImages(bkRef, gRef, c.Platform, ignore); err != nil {
			t.Fatal(err)
		}
	}
	expectDiffs(t, n, diffs)
}

// build makes the case's build: context, Dockerfile and flags.
func (c caseSpec) build(t *testing.T, dir string) (refBuild, error) {
	b := refBuild{context: filepath.Join(dir, "context"), platform: c.Platform}
	if _, err := os.Stat(b.context); os.IsNotExist(err) {
		b.context = t.TempDir() // an empty context
	}
	df := c.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	b.dockerfile = filepath.Join(dir, filepath.FromSlash(df))
	if _, err := os.Stat(b.dockerfile); os.IsNotExist(err) && c.Dockerfile == "" {
		// No Dockerfile: the case checks which name the builders find
		// when none is given.
		if err := unnamedDockerfile(t, dir, &b); err != nil {
			return b, err
		}
	} else if err != nil {
		return b, fmt.Errorf("the case's Dockerfile: %w", err)
	} else if b.dockerfile, err = withBaseNamed(t, b.dockerfile); err != nil {
		return b, err
	}
	base := baseRef("amd64")
	if c.Platform != "" {
		base = baseRef("multi")
		b.flags = append(b.flags, "--platform", c.Platform)
	}
	if _, ok := c.Args["BASE"]; !ok {
		b.flags = append(b.flags, "--build-arg", "BASE="+base)
	}
	keys := make([]string, 0, len(c.Args))
	for k := range c.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.Contains(c.Args[k], "/e2e/busybox:") {
			return b, fmt.Errorf("case.json arg %s names the e2e base by its address, which changes from run to run: write %s", k, baseToken)
		}
		b.flags = append(b.flags, "--build-arg", k+"="+strings.ReplaceAll(c.Args[k], baseToken, baseRef("amd64")))
	}
	if c.Target != "" {
		b.flags = append(b.flags, "--target", c.Target)
	}
	secrets := t.TempDir()
	for id, value := range c.Secrets {
		f := filepath.Join(secrets, fmt.Sprintf("%d", len(b.flags)))
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			return b, err
		}
		b.flags = append(b.flags, "--secret", "id="+id+",src="+f)
	}
	return b, nil
}

// baseToken stands for the e2e base image (baseRef("amd64")) where a case
// must name it in full: in `COPY --from=` and `ONBUILD COPY --from=`, which
// take no build arguments, and in a case's args. The registry's address
// changes from run to run (CI picks a free port), so no case may write it.
const baseToken = "{{base}}"

// withBaseNamed returns the Dockerfile to build: the case's own, or, when it
// holds baseToken, a copy in a temporary folder with the token replaced (and
// its NAME.dockerignore beside it, which both builders read from there).
func withBaseNamed(t *testing.T, dockerfile string) (string, error) {
	raw, err := os.ReadFile(dockerfile)
	if bytes.Contains(raw, []byte("/e2e/busybox:")) {
		return "", fmt.Errorf("%s names the e2e base by its address, which changes from run to run: write %s", dockerfile, baseToken)
	}
	if err != nil || !bytes.Contains(raw, []byte(baseToken)) {
		return dockerfile, err
	}
	dir := t.TempDir()
	out := filepath.Join(dir, filepath.Base(dockerfile))
	if err := os.WriteFile(out, bytes.ReplaceAll(raw, []byte(baseToken), []byte(baseRef("amd64"))), 0o644); err != nil {
		return "", err
	}
	if ignore, err := os.ReadFile(dockerfile + ".dockerignore"); err == nil {
		if err := os.WriteFile(out+".dockerignore", ignore, 0o644); err != nil {
			return "", err
		}
	}
	return out, nil
}

// unnamedDockerfile puts the case's files named like a Dockerfile in
// another case ("dockerfile") into a copy of the context, where both
// builders look when no file is named on their command lines.
func unnamedDockerfile(t *testing.T, dir string, b *refBuild) error {
	ctx := t.TempDir()
	if out, err := shErr("cp", "-a", b.context+"/.", ctx+"/"); err != nil {
		return fmt.Errorf("copy the context: %v %s", err, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	found := false
	for _, e := range entries {
		if strings.EqualFold(e.Name(), "Dockerfile") && e.Type().IsRegular() {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(ctx, e.Name()), raw, 0o644); err != nil {
				return err
			}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s has no Dockerfile (nor a \"dockerfile\" in case.json)", dir)
	}
	b.context, b.dockerfile = ctx, ""
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errorLine is gantry's own error line out of a failed run's output.
func errorLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "gantry: "); ok {
			return msg
		}
	}
	return strings.Join(lines, " | ")
}
