// The small part of cli-progress (no bundled types) that the CLI uses.
declare module "cli-progress" {
  export interface Options {
    format?: string | ((options: Options, params: { progress: number; value: number; total: number }, payload: Record<string, unknown>) => string);
    stream?: NodeJS.WritableStream;
    fps?: number;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    gracefulExit?: boolean;
    linewrap?: boolean | null;
    noTTYOutput?: boolean;
    autopadding?: boolean;
  }
  export class GenericBar {
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  export class MultiBar {
    constructor(options: Options, preset?: unknown);
    create(total: number, start: number, payload?: Record<string, unknown>): GenericBar;
    log(text: string): void;
    update(): void;
    stop(): void;
  }
  const _default: { MultiBar: typeof MultiBar };
  export default _default;
}
