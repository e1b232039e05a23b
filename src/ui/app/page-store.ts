// A minimal observable holder for AppState: immutable updates, synchronous notification.
// The root element (app.ts) subscribes through StoreController and hands the state down as a
// property; the components below it only render what they are given.

import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { AppState } from './state.ts';

type Listener = (state: AppState) => void;

export class Store {
  private listeners = new Set<Listener>();

  constructor(private current: AppState) {}

  get state(): AppState {
    return this.current;
  }

  /** Replace the state with `fn(state)`'s result; fn must not mutate its argument. */
  update(fn: (s: AppState) => AppState): void {
    this.current = fn(this.current);
    for (const l of this.listeners) l(this.current);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Re-renders its host on every store change. */
export class StoreController implements ReactiveController {
  private unsubscribe?: () => void;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly store: Store,
  ) {
    host.addController(this);
  }

  get state(): AppState {
    return this.store.state;
  }

  hostConnected(): void {
    this.unsubscribe = this.store.subscribe(() => this.host.requestUpdate());
  }

  hostDisconnected(): void {
    this.unsubscribe?.();
  }
}
