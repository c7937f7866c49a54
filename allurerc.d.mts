// Types of allurerc.mjs's exports, for the code that reads the report's shape (bench/report.ts, its test).
export declare const HISTORY_REPORTS: number;
export declare const HISTORY_RESULTS: number;
export declare const SINGLE_FILE_TESTS: number;
export declare function reportShape(tests: number): { singleFile: boolean; historyLimit: number };
declare const config: unknown;
export default config;
