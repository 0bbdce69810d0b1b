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
;; The scan reads four rows at once, one from each quarter of the rows, so that like the fold it
;; runs four long sequential streams: a single stream leaves memory bandwidth unused, and rows taken
;; side by side (eight neighbouring pages at a time) keep the prefetchers restarting at every page
;; (docs/pir.md, "The kernel"). The batched scan builds XOR tables of three rows (docs/pir.md,
;; "Batched answers"). The loops are unrolled; the unrolled parts were generated and are kept flat.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; scan(rows, count, rowBytes, sel, bit, out)
  ;;   for r in 0 .. count-1:  out[0 .. rowBytes) ^= (row r) AND mask(r)
  ;; where row r starts at rows + r*rowBytes and mask(r) is all ones when bit (bit + r) of the
  ;; selection bitmap at `sel` is 1 (bit k is bit k&7 of byte sel + k>>3, least significant first),
  ;; else all zeros. `out` is accumulated into, not cleared. With per = count >> 2, each pass takes
  ;; row i of each quarter (rows i, per + i, 2per + i, 3per + i), then the last count mod 4 rows go
  ;; one at a time; within a row, 64 bytes per step (four v128), then 16, then single bytes.
  (func (export "scan")
    (param $rows i32) (param $count i32) (param $rowBytes i32)
    (param $sel i32) (param $bit i32) (param $out i32)
    (local $r i32) (local $p i32) (local $j i32) (local $k i32) (local $mb i32)
    (local $o i32) (local $q i32) (local $end64 i32) (local $end16 i32)
    (local $m v128)
    (local $i i32) (local $per i32) (local $stride i32)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local.set $end64 (i32.and (local.get $rowBytes) (i32.const -64)))
    (local.set $end16 (i32.and (local.get $rowBytes) (i32.const -16)))
    ;; Four streams: stream s reads rows s*per .. (s+1)*per - 1 in order, one row of each per pass.
    (local.set $per (i32.shr_u (local.get $count) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $per) (local.get $rowBytes)))
    (local.set $p (local.get $rows))
    (block $passes_done
      (loop $pass
        (br_if $passes_done (i32.ge_u (local.get $i) (local.get $per)))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $i) (i32.mul (local.get $per) (i32.const 0)))))
        (local.set $m0 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $i) (i32.mul (local.get $per) (i32.const 1)))))
        (local.set $m1 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $i) (i32.mul (local.get $per) (i32.const 2)))))
        (local.set $m2 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $k (i32.add (local.get $bit) (i32.add (local.get $i) (i32.mul (local.get $per) (i32.const 3)))))
        (local.set $m3 (i32x4.splat (i32.sub (i32.const 0) (i32.and (i32.shr_u
          (i32.load8_u (i32.add (local.get $sel) (i32.shr_u (local.get $k) (i32.const 3))))
          (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))))
        (local.set $j (i32.const 0))
        (block $end_64
          (loop $step_64
            (br_if $end_64 (i32.ge_u (local.get $j) (local.get $end64)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $stride)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $stride)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $stride)))
            (v128.store offset=0 (local.get $o) (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=0 (local.get $o)) (v128.and (v128.load offset=0 (local.get $q0)) (local.get $m0))) (v128.and (v128.load offset=0 (local.get $q1)) (local.get $m1))) (v128.and (v128.load offset=0 (local.get $q2)) (local.get $m2))) (v128.and (v128.load offset=0 (local.get $q3)) (local.get $m3))))
            (v128.store offset=16 (local.get $o) (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=16 (local.get $o)) (v128.and (v128.load offset=16 (local.get $q0)) (local.get $m0))) (v128.and (v128.load offset=16 (local.get $q1)) (local.get $m1))) (v128.and (v128.load offset=16 (local.get $q2)) (local.get $m2))) (v128.and (v128.load offset=16 (local.get $q3)) (local.get $m3))))
            (v128.store offset=32 (local.get $o) (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=32 (local.get $o)) (v128.and (v128.load offset=32 (local.get $q0)) (local.get $m0))) (v128.and (v128.load offset=32 (local.get $q1)) (local.get $m1))) (v128.and (v128.load offset=32 (local.get $q2)) (local.get $m2))) (v128.and (v128.load offset=32 (local.get $q3)) (local.get $m3))))
            (v128.store offset=48 (local.get $o) (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=48 (local.get $o)) (v128.and (v128.load offset=48 (local.get $q0)) (local.get $m0))) (v128.and (v128.load offset=48 (local.get $q1)) (local.get $m1))) (v128.and (v128.load offset=48 (local.get $q2)) (local.get $m2))) (v128.and (v128.load offset=48 (local.get $q3)) (local.get $m3))))
            (local.set $j (i32.add (local.get $j) (i32.const 64)))
            (br $step_64)))
        (block $end_16
          (loop $step_16
            (br_if $end_16 (i32.ge_u (local.get $j) (local.get $end16)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $stride)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $stride)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $stride)))
            (v128.store offset=0 (local.get $o) (v128.xor (v128.xor (v128.xor (v128.xor (v128.load offset=0 (local.get $o)) (v128.and (v128.load offset=0 (local.get $q0)) (local.get $m0))) (v128.and (v128.load offset=0 (local.get $q1)) (local.get $m1))) (v128.and (v128.load offset=0 (local.get $q2)) (local.get $m2))) (v128.and (v128.load offset=0 (local.get $q3)) (local.get $m3))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $step_16)))
        (block $end_1
          (loop $step_1
            (br_if $end_1 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (local.set $q0 (i32.add (local.get $p) (local.get $j)))
            (local.set $q1 (i32.add (local.get $q0) (local.get $stride)))
            (local.set $q2 (i32.add (local.get $q1) (local.get $stride)))
            (local.set $q3 (i32.add (local.get $q2) (local.get $stride)))
            (i32.store8 (local.get $o) (i32.xor (i32.xor (i32.xor (i32.xor (i32.load8_u (local.get $o)) (i32.and (i32.load8_u (local.get $q0)) (i32x4.extract_lane 0 (local.get $m0)))) (i32.and (i32.load8_u (local.get $q1)) (i32x4.extract_lane 0 (local.get $m1)))) (i32.and (i32.load8_u (local.get $q2)) (i32x4.extract_lane 0 (local.get $m2)))) (i32.and (i32.load8_u (local.get $q3)) (i32x4.extract_lane 0 (local.get $m3)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $step_1)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $pass)))
    ;; The last count mod 4 rows, one at a time.
    (local.set $r (i32.shl (local.get $per) (i32.const 2)))
    (local.set $p (i32.add (local.get $rows) (i32.mul (local.get $r) (local.get $rowBytes))))
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

  ;; scan_batch(rows, count, rowBytes, bit, batch, sels, selStride, outs, outStride, scratch)
  ;;   for q in 0 .. batch-1, r in 0 .. count-1:  out_q ^= (row r) AND mask_q(r)
  ;; The batched scan (docs/pir.md, "Batched answers"): `batch` (1 .. 32) selections over the same
  ;; rows in one pass. Selection q is the bitmap at sels + q*selStride (bit bit + r for row r, as in
  ;; scan; 4 bytes are read from the byte holding a block's first bit); its result is accumulated
  ;; into out_q at outs + q*outStride, 16 bytes at a time over ceil(rowBytes / 16) * 16 bytes (the
  ;; bytes past rowBytes are garbage: outStride must leave room for them, and the rows must be
  ;; followed by 15 readable bytes). `scratch` is 6144 + 12*batch bytes (16-byte aligned).
  ;;
  ;; Blocks of nine rows, as three triples. For each 16-byte column of a block, the eight XORs of
  ;; the subsets of each triple are stored in a table (entry e of triple t = XOR of the rows whose
  ;; bit is set in e; entry 0 is zero), 256 bytes of columns at a time. Each selection's three bits
  ;; per triple are its entries' addresses, so a query costs 3 loads and 3 XORs per column of nine
  ;; rows, and the table (7 stores per triple and column) is shared by the whole batch: one pass
  ;; answers 16 queries for much less than 16 scans' work (M4RM, the "method of four Russians").
  ;; A last block of fewer than nine rows reads the last row again; its bits are masked to zero.
  ;; Branch-free in the data and the selection bits, like scan.
  (func (export "scan_batch")
    (param $rows i32) (param $count i32) (param $rowBytes i32) (param $bit i32) (param $batch i32)
    (param $sels i32) (param $selStride i32) (param $outs i32) (param $outStride i32) (param $scratch i32)
    (local $r i32) (local $p i32) (local $last i32) (local $width i32) (local $j0 i32) (local $cols i32)
    (local $q i32) (local $k i32) (local $bits i32) (local $valid i32) (local $sp i32) (local $ip i32) (local $tp i32) (local $tend i32) (local $o i32) (local $c i32) (local $idx i32) (local $n i32)
    (local $t0 i32)
(local $t1 i32)
(local $t2 i32)
    (local $p0 i32)
(local $p1 i32)
(local $p2 i32)
(local $p3 i32)
(local $p4 i32)
(local $p5 i32)
(local $p6 i32)
(local $p7 i32)
(local $p8 i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $ab v128)
    (if (i32.or (i32.eqz (local.get $count)) (i32.eqz (local.get $batch))) (then (return)))
    (local.set $width (i32.and (i32.add (local.get $rowBytes) (i32.const 15)) (i32.const -16)))
    (local.set $idx (i32.add (local.get $scratch) (i32.const 6144)))
    (local.set $tp (local.get $scratch))
    (loop $zero
      (v128.store (local.get $tp) (v128.const i64x2 0 0))
      (local.set $tp (i32.add (local.get $tp) (i32.const 128)))
      (br_if $zero (i32.lt_u (local.get $tp) (local.get $idx))))
    (local.set $last (i32.add (local.get $rows) (i32.mul (i32.sub (local.get $count) (i32.const 1)) (local.get $rowBytes))))
    (local.set $p (local.get $rows))
    (block $blocks_done (loop $block
      (br_if $blocks_done (i32.ge_u (local.get $r) (local.get $count)))
      (local.set $n (i32.sub (local.get $count) (local.get $r)))
      (local.set $valid (select (i32.const -1) (i32.sub (i32.shl (i32.const 1) (local.get $n)) (i32.const 1)) (i32.ge_u (local.get $n) (i32.const 32))))
      (local.set $q (i32.const 0)) (local.set $sp (local.get $sels)) (local.set $ip (local.get $idx))
      (local.set $k (i32.add (local.get $bit) (local.get $r)))
      (loop $each_q
        (local.set $bits (i32.and (local.get $valid) (i32.shr_u
          (i32.load (i32.add (local.get $sp) (i32.shr_u (local.get $k) (i32.const 3)))) (i32.and (local.get $k) (i32.const 7)))))
        (i32.store offset=0 (local.get $ip) (i32.add (local.get $scratch) (i32.add (i32.const 0) (i32.shl (i32.and (i32.shr_u (local.get $bits) (i32.const 0)) (i32.const 7)) (i32.const 4)))))
(i32.store offset=4 (local.get $ip) (i32.add (local.get $scratch) (i32.add (i32.const 128) (i32.shl (i32.and (i32.shr_u (local.get $bits) (i32.const 3)) (i32.const 7)) (i32.const 4)))))
(i32.store offset=8 (local.get $ip) (i32.add (local.get $scratch) (i32.add (i32.const 256) (i32.shl (i32.and (i32.shr_u (local.get $bits) (i32.const 6)) (i32.const 7)) (i32.const 4)))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 12)))
        (local.set $sp (i32.add (local.get $sp) (local.get $selStride)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br_if $each_q (i32.lt_u (local.get $q) (local.get $batch))))
      (local.set $p0 (local.get $p))
      (local.set $p1 (select (i32.add (local.get $p0) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p0) (local.get $last))))
(local.set $p2 (select (i32.add (local.get $p1) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p1) (local.get $last))))
(local.set $p3 (select (i32.add (local.get $p2) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p2) (local.get $last))))
(local.set $p4 (select (i32.add (local.get $p3) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p3) (local.get $last))))
(local.set $p5 (select (i32.add (local.get $p4) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p4) (local.get $last))))
(local.set $p6 (select (i32.add (local.get $p5) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p5) (local.get $last))))
(local.set $p7 (select (i32.add (local.get $p6) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p6) (local.get $last))))
(local.set $p8 (select (i32.add (local.get $p7) (local.get $rowBytes)) (local.get $last) (i32.lt_u (local.get $p7) (local.get $last))))
      (local.set $j0 (i32.const 0))
      (block $slices_done (loop $slice
        (br_if $slices_done (i32.ge_u (local.get $j0) (local.get $width)))
        (local.set $cols (select (i32.sub (local.get $width) (local.get $j0)) (i32.const 256) (i32.lt_u (i32.sub (local.get $width) (local.get $j0)) (i32.const 256))))
        (local.set $tp (local.get $scratch))
        (local.set $c (local.get $j0))
        (local.set $tend (i32.add (local.get $j0) (local.get $cols)))
        (loop $build
          
          (local.set $a (v128.load (i32.add (local.get $p0) (local.get $c)))) (local.set $b (v128.load (i32.add (local.get $p1) (local.get $c)))) (local.set $cc (v128.load (i32.add (local.get $p2) (local.get $c))))
          (local.set $ab (v128.xor (local.get $a) (local.get $b)))
          (v128.store offset=16 (local.get $tp) (local.get $a)) (v128.store offset=32 (local.get $tp) (local.get $b))
          (v128.store offset=48 (local.get $tp) (local.get $ab)) (v128.store offset=64 (local.get $tp) (local.get $cc))
          (v128.store offset=80 (local.get $tp) (v128.xor (local.get $a) (local.get $cc))) (v128.store offset=96 (local.get $tp) (v128.xor (local.get $b) (local.get $cc)))
          (v128.store offset=112 (local.get $tp) (v128.xor (local.get $ab) (local.get $cc)))

          (local.set $a (v128.load (i32.add (local.get $p3) (local.get $c)))) (local.set $b (v128.load (i32.add (local.get $p4) (local.get $c)))) (local.set $cc (v128.load (i32.add (local.get $p5) (local.get $c))))
          (local.set $ab (v128.xor (local.get $a) (local.get $b)))
          (v128.store offset=144 (local.get $tp) (local.get $a)) (v128.store offset=160 (local.get $tp) (local.get $b))
          (v128.store offset=176 (local.get $tp) (local.get $ab)) (v128.store offset=192 (local.get $tp) (local.get $cc))
          (v128.store offset=208 (local.get $tp) (v128.xor (local.get $a) (local.get $cc))) (v128.store offset=224 (local.get $tp) (v128.xor (local.get $b) (local.get $cc)))
          (v128.store offset=240 (local.get $tp) (v128.xor (local.get $ab) (local.get $cc)))

          (local.set $a (v128.load (i32.add (local.get $p6) (local.get $c)))) (local.set $b (v128.load (i32.add (local.get $p7) (local.get $c)))) (local.set $cc (v128.load (i32.add (local.get $p8) (local.get $c))))
          (local.set $ab (v128.xor (local.get $a) (local.get $b)))
          (v128.store offset=272 (local.get $tp) (local.get $a)) (v128.store offset=288 (local.get $tp) (local.get $b))
          (v128.store offset=304 (local.get $tp) (local.get $ab)) (v128.store offset=320 (local.get $tp) (local.get $cc))
          (v128.store offset=336 (local.get $tp) (v128.xor (local.get $a) (local.get $cc))) (v128.store offset=352 (local.get $tp) (v128.xor (local.get $b) (local.get $cc)))
          (v128.store offset=368 (local.get $tp) (v128.xor (local.get $ab) (local.get $cc)))
          (local.set $tp (i32.add (local.get $tp) (i32.const 384)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $build (i32.lt_u (local.get $c) (local.get $tend))))
        (local.set $q (i32.const 0)) (local.set $ip (local.get $idx)) (local.set $o (i32.add (local.get $outs) (local.get $j0)))
        (loop $each
          (local.set $t0 (i32.load offset=0 (local.get $ip)))
(local.set $t1 (i32.load offset=4 (local.get $ip)))
(local.set $t2 (i32.load offset=8 (local.get $ip)))
          (local.set $tp (local.get $o))
          (local.set $tend (i32.add (local.get $o) (local.get $cols)))
          (loop $cols
            (v128.store offset=0 (local.get $tp) (v128.xor (v128.xor (v128.xor (v128.load offset=0 (local.get $tp)) (v128.load offset=0 (local.get $t0))) (v128.load offset=0 (local.get $t1))) (v128.load offset=0 (local.get $t2))))
(v128.store offset=16 (local.get $tp) (v128.xor (v128.xor (v128.xor (v128.load offset=16 (local.get $tp)) (v128.load offset=384 (local.get $t0))) (v128.load offset=384 (local.get $t1))) (v128.load offset=384 (local.get $t2))))
(v128.store offset=32 (local.get $tp) (v128.xor (v128.xor (v128.xor (v128.load offset=32 (local.get $tp)) (v128.load offset=768 (local.get $t0))) (v128.load offset=768 (local.get $t1))) (v128.load offset=768 (local.get $t2))))
(v128.store offset=48 (local.get $tp) (v128.xor (v128.xor (v128.xor (v128.load offset=48 (local.get $tp)) (v128.load offset=1152 (local.get $t0))) (v128.load offset=1152 (local.get $t1))) (v128.load offset=1152 (local.get $t2))))
            (local.set $tp (i32.add (local.get $tp) (i32.const 64)))
            (local.set $t0 (i32.add (local.get $t0) (i32.const 1536)))
(local.set $t1 (i32.add (local.get $t1) (i32.const 1536)))
(local.set $t2 (i32.add (local.get $t2) (i32.const 1536)))
            (br_if $cols (i32.lt_u (local.get $tp) (local.get $tend))))
          (local.set $o (i32.add (local.get $o) (local.get $outStride)))
          (local.set $ip (i32.add (local.get $ip) (i32.const 12)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br_if $each (i32.lt_u (local.get $q) (local.get $batch))))
        (local.set $j0 (i32.add (local.get $j0) (i32.const 256)))
        (br $slice)))
      (local.set $p (i32.add (local.get $p8) (local.get $rowBytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 9)))
      (br $block)))
  )
)
