package treewalk

import "syscall"

// sameStat compares all but the access time, which reading a folder moves.
func sameStat(a, b any) bool {
	x, y := *a.(*syscall.Stat_t), *b.(*syscall.Stat_t)
	x.Atim, y.Atim = syscall.Timespec{}, syscall.Timespec{}
	return x == y
}
