package layer

import "path"

// entrySet is the entries collected so far, in the order they came; a
// later entry replaces an earlier one of the same name where it stands.
type entrySet struct {
	list []Entry
	at   map[string]int // index in list by name, of list[:indexed]
	// indexed: the entries after it came from a walk and are in at only
	// once a later has or put needs them (a tree's names are many, and
	// only another add could meet one again).
	indexed int
}

// indexTo puts the walked entries before n in at.
func (s *entrySet) indexTo(n int) {
	if s.at == nil {
		s.at = map[string]int{}
	}
	for ; s.indexed < n; s.indexed++ {
		s.at[s.list[s.indexed].Name] = s.indexed
	}
}

// merge takes in the entries from list[base:] on, appended by a walk
// (which gives each name once): one whose name the set has replaces that
// entry where it stands.
func (s *entrySet) merge(base int) {
	s.indexTo(base)
	end := base
	for i := base; i < len(s.list); i++ {
		if j, ok := s.at[s.list[i].Name]; ok && j < base {
			s.list[j] = s.list[i]
			continue
		}
		if end != i {
			s.list[end] = s.list[i]
		}
		end++
	}
	clear(s.list[end:]) // no stale copies kept alive
	s.list = s.list[:end]
}

func (s *entrySet) has(name string) bool {
	s.indexTo(len(s.list))
	_, ok := s.at[name]
	return ok
}

func (s *entrySet) put(e Entry) {
	s.indexTo(len(s.list))
	if i, ok := s.at[e.Name]; ok {
		s.list[i] = e
		return
	}
	s.at[e.Name] = len(s.list)
	s.list = append(s.list, e)
	s.indexed = len(s.list)
}

func addParents(out *entrySet, name string, o Options) {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if !out.has(dir) {
			out.put(madeDir(dir, o))
		}
	}
}

// under is path.Join for a clean folder and a clean relative path, without
// cleaning again: it runs once per file.
func under(root, rel string) string {
	if root == "" {
		return rel
	}
	return root + "/" + rel
}
