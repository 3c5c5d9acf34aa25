// Every network service metalform runs is one of these: started and stopped by
// `serve` or `apply`, knowing nothing about plans.
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
