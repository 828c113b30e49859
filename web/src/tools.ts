/**
 * The page's built-in tool: a demo `get_weather` that makes up the weather, deterministically (the
 * same city always gets the same weather), clearly labelled as such. It lets the page show the
 * whole tool loop: the model calls the tool, the page runs it, sends the result back, and streams
 * the model's follow-up. No DOM here.
 */
import type { ToolCallRecord } from './conversation.js';

const CONDITIONS = ['sunny', 'partly cloudy', 'cloudy', 'light rain', 'windy', 'foggy', 'clear'];

/** FNV-1a: a stable hash of the city's name. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Made-up weather for a city: 2 to 31 °C and one of a few conditions. */
export function demoWeather(city: string): { city: string; temperatureC: number; conditions: string; note: string } {
  const h = hash(city.trim().toLowerCase());
  return {
    city,
    temperatureC: 2 + (h % 30),
    conditions: CONDITIONS[(h >>> 8) % CONDITIONS.length] ?? 'clear',
    note: 'Demo data made up by the ChatQL chat page, not a real forecast.',
  };
}

/** Whether the page can run this call itself. */
export function canRun(call: ToolCallRecord): boolean {
  return call.name === 'get_weather';
}

/** Runs a call the page knows; the result is the JSON sent back as the tool message. */
export function runTool(call: ToolCallRecord): string {
  if (call.name !== 'get_weather') return JSON.stringify({ error: `This page has no tool named ${call.name}.` });
  let city = '';
  try {
    const args = JSON.parse(call.arguments) as { city?: unknown };
    city = typeof args.city === 'string' ? args.city : '';
  } catch {
    return JSON.stringify({ error: 'The arguments are not valid JSON.' });
  }
  if (!city.trim()) return JSON.stringify({ error: 'get_weather needs a city.' });
  return JSON.stringify(demoWeather(city));
}
