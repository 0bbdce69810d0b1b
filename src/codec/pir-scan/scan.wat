;; Umbra PIR server kernel: the row-selected XOR scan, in WebAssembly SIMD (v128).
;;
;; Source of dist/src/codec/pir-scan/scan.wasm: assembled by src/codec/pir-scan/build-kernel.ts with
;; the `wabt` npm package (features: simd, threads); loaded by wasm-kernel.ts. docs/pir.md describes
;; the kernel, the shard layout and the measured speed.
;;
;; The module imports its memory so that one compiled module serves every shard of a database, in
;; the main thread and in worker threads alike: each shard is its own shared WebAssembly.Memory (a
;; SharedArrayBuffer underneath), and each thread instantiates the module once per shard.
;;
;; Both functions are branch-free in the data and in the selection bits: every row is read and
;; masked whether or not it is selected, so the time depends only on the shapes (count, rowBytes).
;; The eight-row and eight-stream loops are unrolled by hand; the scan reads eight rows at once
;; because a single sequential stream leaves memory bandwidth unused (docs/pir.md, "The kernel").
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; scan(rows, count, rowBytes, sel, bit, out)
  ;;   for r in 0 .. count-1:  out[0 .. rowBytes) ^= (row r) AND mask(r)
  ;; where row r starts at rows + r*rowBytes and mask(r) is all ones when bit (bit + r) of the
  ;; selection bitmap at `sel` is 1 (bit k is bit k&7 of byte sel + k>>3, least significant first),
  ;; else all zeros. `out` is accumulated into, not cleared. Rows go eight at a time, then one at a
  ;; time; within a row, 64 bytes per step (four v128), then 16, then single bytes.
  (func (export "scan")
    (param $rows i32) (param $count i32) (param $rowBytes i32)
    (param $sel i32) (param $bit i32) (param $out i32)
    (local $r i32) (local $p i32) (local $j i32) (local $k i32) (local $mb i32)
    (local $o i32) (local $q i32) (local $end64 i32) (local $end16 i32)
    (local $m v128)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $q4 i32) (local $q5 i32) (local $q6 i32) (local $q7 i32)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128)
    (local.set $end64 (i32.and (local.get $rowBytes) (i32.const -64)))
    (local.set $end16 (i32.and (local.get $rowBytes) (i32.const -16)))
    (local.set $p (local.get $rows))
    ;; Eight rows per pass: eight memory streams in flight, and out is loaded and stored once
    ;; per eight rows instead of once per row.
    (block $groups_done
      (loop $group
        (br_if $groups_done (i32.gt_u (i32.add (local.get $r) (i32.const 8)) (local.get $count)))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 0))))
        (local.set $m0 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 1))))
        (local.set $m1 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 2))))
        (local.set $m2 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 3))))
        (local.set $m3 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 4))))
        (local.set $m4 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 5))))
        (local.set $m5 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 6))))
        (local.set $m6 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (i32.const 7))))
        (local.set $m7 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $j (i32.const 0))
        (block $end_64
          (loop $step_64
            (br_if $end_64 (i32.ge_u (local.get $j) (local.get $end64)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $rowBytes)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $rowBytes)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $rowBytes)))
            (local.set $q4 (i32.add (local.get $q3) (local.get $rowBytes)))
            (local.set $q5 (i32.add (local.get $q4) (local.get $rowBytes)))
            (local.set $q6 (i32.add (local.get $q5) (local.get $rowBytes)))
            (local.set $q7 (i32.add (local.get $q6) (local.get $rowBytes)))
            (v128.store offset=0 (local.get $o)
              (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=0 (local.get $o))
              (v128.and (v128.load offset=0 (local.get $q0)) (local.get $m0)))
              (v128.and (v128.load offset=0 (local.get $q1)) (local.get $m1)))
              (v128.and (v128.load offset=0 (local.get $q2)) (local.get $m2)))
              (v128.and (v128.load offset=0 (local.get $q3)) (local.get $m3)))
              (v128.and (v128.load offset=0 (local.get $q4)) (local.get $m4)))
              (v128.and (v128.load offset=0 (local.get $q5)) (local.get $m5)))
              (v128.and (v128.load offset=0 (local.get $q6)) (local.get $m6)))
              (v128.and (v128.load offset=0 (local.get $q7)) (local.get $m7))))
            (v128.store offset=16 (local.get $o)
              (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=16 (local.get $o))
              (v128.and (v128.load offset=16 (local.get $q0)) (local.get $m0)))
              (v128.and (v128.load offset=16 (local.get $q1)) (local.get $m1)))
              (v128.and (v128.load offset=16 (local.get $q2)) (local.get $m2)))
              (v128.and (v128.load offset=16 (local.get $q3)) (local.get $m3)))
              (v128.and (v128.load offset=16 (local.get $q4)) (local.get $m4)))
              (v128.and (v128.load offset=16 (local.get $q5)) (local.get $m5)))
              (v128.and (v128.load offset=16 (local.get $q6)) (local.get $m6)))
              (v128.and (v128.load offset=16 (local.get $q7)) (local.get $m7))))
            (v128.store offset=32 (local.get $o)
              (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=32 (local.get $o))
              (v128.and (v128.load offset=32 (local.get $q0)) (local.get $m0)))
              (v128.and (v128.load offset=32 (local.get $q1)) (local.get $m1)))
              (v128.and (v128.load offset=32 (local.get $q2)) (local.get $m2)))
              (v128.and (v128.load offset=32 (local.get $q3)) (local.get $m3)))
              (v128.and (v128.load offset=32 (local.get $q4)) (local.get $m4)))
              (v128.and (v128.load offset=32 (local.get $q5)) (local.get $m5)))
              (v128.and (v128.load offset=32 (local.get $q6)) (local.get $m6)))
              (v128.and (v128.load offset=32 (local.get $q7)) (local.get $m7))))
            (v128.store offset=48 (local.get $o)
              (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=48 (local.get $o))
              (v128.and (v128.load offset=48 (local.get $q0)) (local.get $m0)))
              (v128.and (v128.load offset=48 (local.get $q1)) (local.get $m1)))
              (v128.and (v128.load offset=48 (local.get $q2)) (local.get $m2)))
              (v128.and (v128.load offset=48 (local.get $q3)) (local.get $m3)))
              (v128.and (v128.load offset=48 (local.get $q4)) (local.get $m4)))
              (v128.and (v128.load offset=48 (local.get $q5)) (local.get $m5)))
              (v128.and (v128.load offset=48 (local.get $q6)) (local.get $m6)))
              (v128.and (v128.load offset=48 (local.get $q7)) (local.get $m7))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br $step_64)))
        (block $end_16
          (loop $step_16
            (br_if $end_16 (i32.ge_u (local.get $j) (local.get $end16)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $rowBytes)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $rowBytes)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $rowBytes)))
            (local.set $q4 (i32.add (local.get $q3) (local.get $rowBytes)))
            (local.set $q5 (i32.add (local.get $q4) (local.get $rowBytes)))
            (local.set $q6 (i32.add (local.get $q5) (local.get $rowBytes)))
            (local.set $q7 (i32.add (local.get $q6) (local.get $rowBytes)))
            (v128.store offset=0 (local.get $o)
              (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=0 (local.get $o))
              (v128.and (v128.load offset=0 (local.get $q0)) (local.get $m0)))
              (v128.and (v128.load offset=0 (local.get $q1)) (local.get $m1)))
              (v128.and (v128.load offset=0 (local.get $q2)) (local.get $m2)))
              (v128.and (v128.load offset=0 (local.get $q3)) (local.get $m3)))
              (v128.and (v128.load offset=0 (local.get $q4)) (local.get $m4)))
              (v128.and (v128.load offset=0 (local.get $q5)) (local.get $m5)))
              (v128.and (v128.load offset=0 (local.get $q6)) (local.get $m6)))
              (v128.and (v128.load offset=0 (local.get $q7)) (local.get $m7))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $step_16)))
        (block $end_1
          (loop $step_1
            (br_if $end_1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $rowBytes)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $rowBytes)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $rowBytes)))
            (local.set $q4 (i32.add (local.get $q3) (local.get $rowBytes)))
            (local.set $q5 (i32.add (local.get $q4) (local.get $rowBytes)))
            (local.set $q6 (i32.add (local.get $q5) (local.get $rowBytes)))
            (local.set $q7 (i32.add (local.get $q6) (local.get $rowBytes)))
            (i32.store8 (local.get $o)
              (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.load8_u (local.get $o))
              (i32.and (i32.load8_u (local.get $q0)) (i32x4.extract_lane 0 (local.get $m0))))
              (i32.and (i32.load8_u (local.get $q1)) (i32x4.extract_lane 0 (local.get $m1))))
              (i32.and (i32.load8_u (local.get $q2)) (i32x4.extract_lane 0 (local.get $m2))))
              (i32.and (i32.load8_u (local.get $q3)) (i32x4.extract_lane 0 (local.get $m3))))
              (i32.and (i32.load8_u (local.get $q4)) (i32x4.extract_lane 0 (local.get $m4))))
              (i32.and (i32.load8_u (local.get $q5)) (i32x4.extract_lane 0 (local.get $m5))))
              (i32.and (i32.load8_u (local.get $q6)) (i32x4.extract_lane 0 (local.get $m6))))
              (i32.and (i32.load8_u (local.get $q7)) (i32x4.extract_lane 0 (local.get $m7)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $step_1)))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 3))))
        (local.set $r (i32.add (local.get $r) (i32.const 8)))
        (br $group)))

    ;; The remaining count mod 8 rows, one at a time.
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $count)))
        ;; mb = 0 - selection bit (bit + r): 0x00000000 or 0xffffffff
        (local.set $k (i32.add (local.get $bit) (local.get $r)))
        (local.set $mb
          (i32.sub (i32.const 0)
            (i32.and
              (i32.shr_u
                (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
                (i32.and (local.get $k) (i32.const 7)))
              (i32.const 1))))
        (local.set $m (i32x4.splat (local.get $mb)))
        (local.set $j (i32.const 0))
        (block $end_64
          (loop $step_64
            (br_if $end_64 (i32.ge_u (local.get $j) (local.get $end64)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q (i32.add (local.get $p) (local.get $j)))
            (v128.store offset=0 (local.get $o)
              (v128.xor (v128.load offset=0 (local.get $o))
                        (v128.and (v128.load offset=0 (local.get $q)) (local.get $m))))
            (v128.store offset=16 (local.get $o)
              (v128.xor (v128.load offset=16 (local.get $o))
                        (v128.and (v128.load offset=16 (local.get $q)) (local.get $m))))
            (v128.store offset=32 (local.get $o)
              (v128.xor (v128.load offset=32 (local.get $o))
                        (v128.and (v128.load offset=32 (local.get $q)) (local.get $m))))
            (v128.store offset=48 (local.get $o)
              (v128.xor (v128.load offset=48 (local.get $o))
                        (v128.and (v128.load offset=48 (local.get $q)) (local.get $m))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br $step_64)))
        (block $end_16
          (loop $step_16
            (br_if $end_16 (i32.ge_u (local.get $j) (local.get $end16)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (v128.store (local.get $o)
              (v128.xor (v128.load (local.get $o))
                        (v128.and (v128.load (i32.add (local.get $p) (local.get $j))) (local.get $m))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $step_16)))
        (block $end_1
          (loop $step_1
            (br_if $end_1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (i32.store8 (local.get $o)
              (i32.xor (i32.load8_u (local.get $o))
                       (i32.and (i32.load8_u (i32.add (local.get $p) (local.get $j))) (local.get $mb))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $step_1)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; fold(ptr, len, out): the XOR of all 16-byte words of memory[ptr .. ptr + (len & -16)) into the
  ;; 16 bytes at out (overwritten). The plain read of memory that the benchmark takes as the scan's
  ;; floor, as fast as a plain read gets here: eight streams (the eighths of the range, each a
  ;; multiple of 64 bytes) read side by side into four v128 accumulators, then the rest in 16-byte steps.
  (func (export "fold") (param $ptr i32) (param $len i32) (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $p4 i32) (local $p5 i32) (local $p6 i32) (local $p7 i32)
    (local $eighth i32) (local $end i32)
    (local.set $eighth (i32.and (i32.shr_u (local.get $len) (i32.const 3)) (i32.const -64)))
    (local.set $p0 (local.get $ptr))
    (local.set $p1 (i32.add (local.get $p0) (local.get $eighth)))
    (local.set $p2 (i32.add (local.get $p1) (local.get $eighth)))
    (local.set $p3 (i32.add (local.get $p2) (local.get $eighth)))
    (local.set $p4 (i32.add (local.get $p3) (local.get $eighth)))
    (local.set $p5 (i32.add (local.get $p4) (local.get $eighth)))
    (local.set $p6 (i32.add (local.get $p5) (local.get $eighth)))
    (local.set $p7 (i32.add (local.get $p6) (local.get $eighth)))
    (local.set $end (i32.add (local.get $ptr) (local.get $eighth)))
    (block $end_streams
      (loop $step_streams
        (br_if $end_streams (i32.ge_u (local.get $p0) (local.get $end)))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p0))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p0))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p0))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p0))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p1))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p1))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p1))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p1))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p2))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p2))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p2))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p2))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p3))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p3))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p3))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p3))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p4))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p4))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p4))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p4))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p5))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p5))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p5))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p5))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p6))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p6))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p6))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p6))))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load offset=0 (local.get $p7))))
        (local.set $a1 (v128.xor (local.get $a1) (v128.load offset=16 (local.get $p7))))
        (local.set $a2 (v128.xor (local.get $a2) (v128.load offset=32 (local.get $p7))))
        (local.set $a3 (v128.xor (local.get $a3) (v128.load offset=48 (local.get $p7))))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 64)))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 64)))
        (local.set $p2 (i32.add (local.get $p2) (i32.const 64)))
        (local.set $p3 (i32.add (local.get $p3) (i32.const 64)))
        (local.set $p4 (i32.add (local.get $p4) (i32.const 64)))
        (local.set $p5 (i32.add (local.get $p5) (i32.const 64)))
        (local.set $p6 (i32.add (local.get $p6) (i32.const 64)))
        (local.set $p7 (i32.add (local.get $p7) (i32.const 64)))
        (br $step_streams)))
    ;; The rest: from the end of the eighth stream to the last whole 16-byte word.
    (local.set $p0 (i32.add (local.get $ptr) (i32.shl (local.get $eighth) (i32.const 3))))
    (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -16))))
    (block $end_16
      (loop $step_16
        (br_if $end_16 (i32.ge_u (local.get $p0) (local.get $end)))
        (local.set $a0 (v128.xor (local.get $a0) (v128.load (local.get $p0))))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
        (br $step_16)))
    (v128.store (local.get $out)
      (v128.xor (v128.xor (local.get $a0) (local.get $a1)) (v128.xor (local.get $a2) (local.get $a3)))))

  ;; scan_batch(rows, count, rowBytes, bit, batch, sels, selStride, outs, outStride, masks)
  ;;   for q in 0 .. batch-1, r in 0 .. count-1:  out_q ^= (row r) AND mask_q(r)
  ;; The batched scan (docs/pir.md, "Batched answers"): `batch` selections over the same rows in
  ;; one pass. Selection q is the bitmap at sels + q*selStride (bit bit + r for row r, as in scan);
  ;; its result is accumulated into out_q at outs + q*outStride. `masks` is scratch for batch*128
  ;; bytes: per group of eight rows, the eight v128 masks of each selection. Each group's eight rows
  ;; are read once, 16 bytes at a time, into eight registers and applied to every accumulator, so a
  ;; pass costs the memory traffic of one scan plus 2 SIMD operations per row, selection and 16
  ;; bytes. A last group of fewer than eight rows reads the last row again with a zero mask.
  ;; Branch-free in the data and the selection bits, like scan.
  (func (export "scan_batch")
    (param $rows i32) (param $count i32) (param $rowBytes i32) (param $bit i32) (param $batch i32)
    (param $sels i32) (param $selStride i32) (param $outs i32) (param $outStride i32) (param $masks i32)
    (local $r i32) (local $p i32) (local $last i32) (local $j i32) (local $end16 i32)
    (local $q i32) (local $k i32) (local $i i32) (local $mp i32) (local $ap i32) (local $sp i32)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $q4 i32) (local $q5 i32) (local $q6 i32) (local $q7 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128)
    (if (i32.or (i32.eqz (local.get $count)) (i32.eqz (local.get $batch))) (then (return)))
    (local.set $end16 (i32.and (local.get $rowBytes) (i32.const -16)))
    (local.set $last (i32.add (local.get $rows) (i32.mul (i32.sub (local.get $count) (i32.const 1)) (local.get $rowBytes))))
    (local.set $p (local.get $rows))
    (block $groups_done
      (loop $group
        (br_if $groups_done (i32.ge_u (local.get $r) (local.get $count)))
        ;; The masks of this group: selection q, row r + i at masks + (8q + i) * 16; zero past count.
        (local.set $mp (local.get $masks))
        (local.set $sp (local.get $sels))
        (local.set $q (i32.const 0))
        (loop $mask_q
          (local.set $i (i32.const 0))
          (loop $mask_i
            (local.set $k (i32.add (local.get $bit) (i32.add (local.get $r) (local.get $i))))
            (v128.store (local.get $mp) (i32x4.splat (i32.sub (i32.const 0) (i32.and
              (i32.and (i32.shr_u
                (i32.load8_u (i32.add (local.get $sp) (i32.shr_u (local.get $k) (i32.const 3))))
                (i32.and (local.get $k) (i32.const 7))) (i32.const 1))
              (i32.lt_u (i32.add (local.get $r) (local.get $i)) (local.get $count))))))
            (local.set $mp (i32.add (local.get $mp) (i32.const 16)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $mask_i (i32.lt_u (local.get $i) (i32.const 8))))
          (local.set $sp (i32.add (local.get $sp) (local.get $selStride)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br_if $mask_q (i32.lt_u (local.get $q) (local.get $batch))))
        ;; The group's row pointers; past the last row they stay on it (its mask is zero there).
        (local.set $q0 (local.get $p))
        (local.set $q1 (select (i32.add (local.get $q0) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q0) (local.get $last))))
        (local.set $q2 (select (i32.add (local.get $q1) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q1) (local.get $last))))
        (local.set $q3 (select (i32.add (local.get $q2) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q2) (local.get $last))))
        (local.set $q4 (select (i32.add (local.get $q3) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q3) (local.get $last))))
        (local.set $q5 (select (i32.add (local.get $q4) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q4) (local.get $last))))
        (local.set $q6 (select (i32.add (local.get $q5) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q5) (local.get $last))))
        (local.set $q7 (select (i32.add (local.get $q6) (local.get $rowBytes)) (local.get $last)
          (i32.lt_u (local.get $q6) (local.get $last))))
        (local.set $j (i32.const 0))
        (block $end_16
          (loop $step_16
            (br_if $end_16 (i32.ge_u (local.get $j) (local.get $end16)))
            (local.set $v0 (v128.load (i32.add (local.get $q0) (local.get $j))))
            (local.set $v1 (v128.load (i32.add (local.get $q1) (local.get $j))))
            (local.set $v2 (v128.load (i32.add (local.get $q2) (local.get $j))))
            (local.set $v3 (v128.load (i32.add (local.get $q3) (local.get $j))))
            (local.set $v4 (v128.load (i32.add (local.get $q4) (local.get $j))))
            (local.set $v5 (v128.load (i32.add (local.get $q5) (local.get $j))))
            (local.set $v6 (v128.load (i32.add (local.get $q6) (local.get $j))))
            (local.set $v7 (v128.load (i32.add (local.get $q7) (local.get $j))))
            (local.set $ap (i32.add (local.get $outs) (local.get $j)))
            (local.set $mp (local.get $masks))
            (local.set $q (i32.const 0))
            (loop $each_16
              (v128.store (local.get $ap)
                (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.xor (v128.load (local.get $ap))
                (v128.and (local.get $v0) (v128.load offset=0 (local.get $mp))))
                (v128.and (local.get $v1) (v128.load offset=16 (local.get $mp))))
                (v128.and (local.get $v2) (v128.load offset=32 (local.get $mp))))
                (v128.and (local.get $v3) (v128.load offset=48 (local.get $mp))))
                (v128.and (local.get $v4) (v128.load offset=64 (local.get $mp))))
                (v128.and (local.get $v5) (v128.load offset=80 (local.get $mp))))
                (v128.and (local.get $v6) (v128.load offset=96 (local.get $mp))))
                (v128.and (local.get $v7) (v128.load offset=112 (local.get $mp)))))
              (local.set $ap (i32.add (local.get $ap) (local.get $outStride)))
              (local.set $mp (i32.add (local.get $mp) (i32.const 128)))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br_if $each_16 (i32.lt_u (local.get $q) (local.get $batch))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $step_16)))
        ;; Row lengths that are no multiple of 16: the last bytes one at a time.
        (block $end_1
          (loop $step_1
            (br_if $end_1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $ap (i32.add (local.get $outs) (local.get $j)))
            (local.set $mp (local.get $masks))
            (local.set $q (i32.const 0))
            (loop $each_1
              (i32.store8 (local.get $ap)
                (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.xor (i32.load8_u (local.get $ap))
                (i32.and (i32.load8_u (i32.add (local.get $q0) (local.get $j))) (i32.load8_u offset=0 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q1) (local.get $j))) (i32.load8_u offset=16 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q2) (local.get $j))) (i32.load8_u offset=32 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q3) (local.get $j))) (i32.load8_u offset=48 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q4) (local.get $j))) (i32.load8_u offset=64 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q5) (local.get $j))) (i32.load8_u offset=80 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q6) (local.get $j))) (i32.load8_u offset=96 (local.get $mp))))
                (i32.and (i32.load8_u (i32.add (local.get $q7) (local.get $j))) (i32.load8_u offset=112 (local.get $mp)))))
              (local.set $ap (i32.add (local.get $ap) (local.get $outStride)))
              (local.set $mp (i32.add (local.get $mp) (i32.const 128)))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br_if $each_1 (i32.lt_u (local.get $q) (local.get $batch))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $step_1)))
        (local.set $p (i32.add (local.get $q7) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 8)))
        (br $group)))))
