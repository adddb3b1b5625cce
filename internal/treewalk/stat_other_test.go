//go:build !linux

package treewalk

func sameStat(a, b any) bool { return true }
