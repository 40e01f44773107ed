/** The namespace helpers live in scripts/netns.ts (npm start uses them too). */
export * from "../../../scripts/netns";
