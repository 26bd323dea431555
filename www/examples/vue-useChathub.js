// Vue 3 composition API: create in onMounted, destroy in onUnmounted.
import { onMounted, onUnmounted, ref } from "vue";
import init, { WidgetTokenManager } from "chathub-loader";

let ready;
export function useChathub(options) {
  const state = ref("idle");
  let manager;
  const onChange = (e) => { if ((e.detail.org ?? undefined) === options.org) state.value = e.detail.state; };
  onMounted(async () => {
    window.addEventListener("chathub:statechange", onChange);
    await (ready ??= init());
    manager = new WidgetTokenManager(options);
    manager.initialize().catch((err) => console.warn("chat unavailable:", err.code));
  });
  onUnmounted(() => {
    window.removeEventListener("chathub:statechange", onChange);
    manager?.destroy();
  });
  return state;
}
