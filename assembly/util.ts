// placeholder: being written
export function scale_f32(x: usize, n: i32, s: f32): void {
  for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * s);
}
